/**
 * Registers the gateway in the service registry once it listens, and removes it
 * at shutdown. A worker process calls `services.registry.start('worker')` itself.
 */
import { hostname } from 'node:os';
import type { Module } from './module';

/** A wildcard bind address says nothing to others: name the host instead. */
export function advertisedAddress(url: string): string {
  const u = new URL(url);
  if (u.hostname === '0.0.0.0' || u.hostname === '[::]') u.hostname = hostname();
  return u.origin;
}

export const installRegistry: Module = ({ services, hooks }) => {
  hooks.onStart.push(async ({ url }) => {
    await services.registry.start('gateway', advertisedAddress(url));
    if (services.config.jobs.runInProcess) await services.registry.start('worker');
  });
  hooks.onStop.push(() => services.registry.stop());
};
