/**
 * Catalog, carts, checkout and orders. A guest's cart joins the user's cart when the guest signs
 * in, lives while the guest session does (plus a grace) and goes at its logout; checkout hands
 * orders to the job queue.
 */
import { CartResolver } from '../resolvers/commerce/cart.resolver';
import { OrderResolver } from '../resolvers/commerce/order.resolver';
import { ProductResolver } from '../resolvers/commerce/product.resolver';
import { CartService } from '../services/commerce/cart.service';
import { CatalogService } from '../services/commerce/catalog.service';
import { OrderService } from '../services/commerce/order.service';
import { OrderUpdates } from '../services/commerce/order-updates';
import { ProductUpdates } from '../services/commerce/product-updates';
import { SAMPLE_CATALOG } from '../services/commerce/sample-catalog';
import { RecommendationService } from '../services/commerce/recommendation.service';
import type { Module } from './module';

export const commerceModule: Module = {
  name: 'commerce',
  services: ({ config, redis, keys, pubsub, log }, { domainEvents, cache }) => {
    const orders = new OrderService(redis, keys, log, domainEvents);
    const catalog = new CatalogService(redis, keys, pubsub, cache);
    // A sale, cancel or failure made here drops this instance's cached reads at once; the others hear the script's message.
    orders.onStockChanged((ids) => catalog.changedHere(ids));
    return {
      catalog,
      carts: new CartService(redis, keys, config),
      orders,
      recommendations: new RecommendationService(redis, keys),
      orderUpdates: new OrderUpdates(orders, pubsub, log.child({ component: 'order-updates' })),
      productUpdates: new ProductUpdates(pubsub, log.child({ component: 'product-updates' })),
    };
  },
  resolvers: [ProductResolver, CartResolver, OrderResolver],
  async install({ services, config, role, log, hooks }) {
    // Catalog reads are cached once the change messages are heard.
    await services.catalog.start();
    if (role === 'gateway' && config.commerce.sampleCatalog) {
      hooks.onStart.push(async () => {
        const added = await services.catalog.seedIfEmpty(SAMPLE_CATALOG);
        if (added > 0) log.info({ products: added }, 'sample catalog added to the empty catalog (SAMPLE_CATALOG=0 turns this off)');
      });
    }
    services.auth.onGuestHandoff(async (guestSessionId, userId) => {
      await services.carts.mergeGuest(guestSessionId, userId);
    });
    services.sessions.onGuestKeepAlive((guestSessionId, untilMs) => services.carts.keepGuest(guestSessionId, untilMs));
    services.auth.onGuestLogout(async (guestSessionId) => {
      await services.carts.clear(`g:${guestSessionId}`);
    });
    services.orders.useQueue(() => services.jobs);
    hooks.onStop.push(async () => {
      services.catalog.stop();
      await services.orderUpdates.close();
      await services.productUpdates.close();
    });
  },
};
