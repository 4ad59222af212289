/**
 * Commerce wiring: a guest's cart joins the user's cart when the guest signs in,
 * lives while the guest session does (plus a grace) and goes at its logout, and
 * checkout hands orders to the job queue once one is installed.
 */
import type { Module } from './module';
import type { InternalQueue } from '../services/commerce/order.service';

export const installCommerce: Module = ({ services }) => {
  services.auth.onGuestHandoff(async (guestSessionId, userId) => {
    await services.carts.mergeGuest(guestSessionId, userId);
  });
  services.sessions.onGuestKeepAlive((guestSessionId, untilMs) => services.carts.keepGuest(guestSessionId, untilMs));
  services.auth.onGuestLogout(async (guestSessionId) => {
    await services.carts.clear(`g:${guestSessionId}`);
  });
  // Looked up at each checkout: the queue service may be added to the container by another module.
  services.orders.useQueue(() => (services as { jobs?: InternalQueue }).jobs);
};
