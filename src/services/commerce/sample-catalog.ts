/**
 * The products a development start adds to an empty catalog, so that a fresh `npm start` has
 * something to browse and the examples in the docs answer (docs/commerce.md#sample-catalog).
 */
import type { ProductRecord } from './catalog.service';

export const SAMPLE_CATALOG: readonly ProductRecord[] = [
  { id: 'tee-classic', name: 'Classic T-shirt', priceCents: 1900, currency: 'USD', stock: 100 },
  { id: 'mug-enamel', name: 'Enamel mug', priceCents: 1200, currency: 'USD', stock: 50 },
  { id: 'cap-wool', name: 'Wool cap', priceCents: 2400, currency: 'USD', stock: 25 },
  { id: 'socks-merino', name: 'Merino socks', priceCents: 1500, currency: 'USD', stock: 200 },
  { id: 'tote-canvas', name: 'Canvas tote', priceCents: 1800, currency: 'USD', stock: 3 },
];
