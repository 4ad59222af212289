/** Commerce service records -> GraphQL object types. */
import type { CartView } from '../../services/commerce/cart.service';
import type { ProductRecord } from '../../services/commerce/catalog.service';
import type { OrderRecord } from '../../services/commerce/order.service';
import type { Cart } from './cart.type';
import { saturateInt } from '../int';
import { OrderStatus, type Order } from './order.type';
import type { Product } from './product.type';

export const toProduct = (p: ProductRecord): Product => ({ ...p });

export const toCart = (c: CartView): Cart => ({
  items: c.lines.map((l) => ({ product: toProduct(l.product), quantity: l.quantity, lineTotalCents: saturateInt(l.quantity * l.product.priceCents) })),
  itemCount: c.itemCount,
  // Under the limit when written; only a later price rise can take a stored cart past it (checkout then refuses).
  subtotalCents: saturateInt(c.subtotalCents),
  currency: c.currency,
});

export const toOrder = (o: OrderRecord): Order => ({
  id: o.id,
  status: OrderStatus[o.status],
  items: o.items.map((i) => ({ ...i })),
  totalCents: o.totalCents,
  currency: o.currency,
  createdAt: new Date(o.createdAt),
  updatedAt: new Date(o.updatedAt),
});
