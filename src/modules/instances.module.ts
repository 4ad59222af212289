/**
 * The instance list (service registry): every gateway and worker process registers itself once
 * it is ready, with the roles it runs, and leaves the list at shutdown before its workers stop
 * (it is last in the module list, and stop steps run in reverse).
 */
import { hostname } from 'node:os';
import { InstanceResolver } from '../resolvers/instances/instance.resolver';
import { InstancesService } from '../services/instances/instances.service';
import type { Module } from './module';

/** A wildcard bind address says nothing to others: name the host instead. */
export function advertisedAddress(url: string): string {
  const u = new URL(url);
  if (u.hostname === '0.0.0.0' || u.hostname === '[::]') u.hostname = hostname();
  return u.origin;
}

export const instancesModule: Module = {
  name: 'instances',
  services: ({ config, redis, keys, log, instanceId }) => ({
    instances: new InstancesService(redis, keys, { ...config.instances, eventMaxLen: config.events.streamMaxLen }, log, instanceId),
  }),
  resolvers: [InstanceResolver],
  install({ config, role, services, hooks }) {
    hooks.onStart.push(async ({ url }) => {
      const workers = role === 'worker' || config.jobs.runInProcess;
      // One registration with every role, so the instance.joined event lists them all.
      if (role === 'gateway' && url) await services.instances.start('gateway', advertisedAddress(url), workers ? ['worker'] : []);
      else if (workers) await services.instances.start('worker');
    });
    hooks.onStop.push(() => services.instances.stop());
  },
};
