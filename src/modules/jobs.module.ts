/**
 * Jobs wiring: live job updates for this instance's subscribers (a QueueEvents
 * reader, started on demand), and with WORKER=1 (the default) workers inside
 * the gateway, started after it listens and drained at shutdown.
 */
import { QueueEvents } from 'bullmq';
import type { Module } from './module';
import { closeQuietly, connect } from '../redis/connection';
import { JobEvents } from '../services/jobs/job-updates';
import { JobRunner } from '../worker/job-runner';

export const installJobs: Module = ({ services, redis, redisTarget, log, hooks }) => {
  const { config, keys, jobs } = services;
  // BullMQ duplicates this connection for each blocking reader (worker, events); it
  // carries the blocking options (no command timeout, commands queued while offline).
  const blocking = connect(redisTarget, { name: 'gw-jobs', blocking: true });
  blocking.on('error', (err) => log.debug({ err: err.message }, 'jobs redis error'));
  const openEvents = (lastEventId: string): QueueEvents =>
    new QueueEvents(keys.jobQueue, { connection: blocking as never, prefix: keys.prefix, lastEventId, blockingTimeout: 5000 });
  jobs.attachEvents(new JobEvents(jobs, redis, openEvents, log.child({ component: 'job-events' })));

  let runner: JobRunner | null = null;
  if (config.jobs.runInProcess) {
    hooks.onStart.push(async () => {
      runner = new JobRunner({ services, registry: jobs.registry, connection: blocking, commands: redis, keys, config, log: log.child({ component: 'worker' }) });
      await runner.start();
      log.info({ concurrency: config.jobs.concurrency, types: jobs.registry.types() }, 'job worker running in-process');
    });
  }
  hooks.onStop.push(async () => {
    await runner?.close();
    await jobs.close();
    services.mail.close();
    await closeQuietly(blocking);
  });
};
