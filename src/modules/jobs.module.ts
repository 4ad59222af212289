/**
 * Background jobs. Live job updates for this instance's subscribers (a QueueEvents reader,
 * started on demand); job workers in the standalone worker, and in the gateway with WORKER=1
 * (the default), started once the process is ready and drained at shutdown.
 */
import { QueueEvents } from 'bullmq';
import { closeQuietly, connect } from '../redis/connection';
import { JobResolver } from '../resolvers/jobs/job.resolver';
import { JobService } from '../services/jobs/job.service';
import { JobUpdates } from '../services/jobs/job-updates';
import { MailService } from '../services/jobs/mail.service';
import { JobRunner } from '../worker/job-runner';
import type { Module } from './module';

export const jobsModule: Module = {
  name: 'jobs',
  // Handlers validate and run with the whole container, which is complete by the time a job is enqueued.
  services: ({ config, redis, keys, log }, built) => ({
    jobs: new JobService(redis, keys, config, () => built, log),
    mail: new MailService(redis, keys, config.jobs),
  }),
  resolvers: [JobResolver],
  install({ config, role, services, redis, redisTarget, keys, log, hooks }) {
    const { jobs } = services;
    // Password reset emails are email.send jobs whose token travels sealed (services/jobs/mail-secret.ts).
    services.auth.useResetMailer(async (message, secret, ttlMs) => {
      const sealed = await services.mail.holdSecret(secret, ttlMs);
      await jobs.enqueueInternal('email.send', { ...message, secret: sealed });
    });
    // BullMQ duplicates this connection for each blocking reader (worker, events); it
    // carries the blocking options (no command timeout, commands queued while offline).
    const blocking = connect(redisTarget, { name: 'gw-jobs', blocking: true });
    blocking.on('error', (err: Error) => log.debug({ err: err.message }, 'jobs redis error'));
    if (role === 'gateway') {
      const openEvents = (lastEventId: string): QueueEvents =>
        new QueueEvents(keys.jobQueue, { connection: blocking, prefix: keys.prefix, lastEventId, blockingTimeout: 5000 });
      jobs.attachUpdates(new JobUpdates(jobs, redis, openEvents, log.child({ component: 'job-updates' })));
    }
    const workerLog = log.child({ component: 'worker' });
    let runner: JobRunner | null = null;
    if (role === 'worker' || config.jobs.runInProcess) {
      hooks.onStart.push(async () => {
        runner = new JobRunner({ services, registry: jobs.types, connection: blocking, commands: redis, keys, config, log: workerLog });
        await runner.start();
        workerLog.info({ inProcess: role === 'gateway', concurrency: config.jobs.concurrency, types: jobs.types.types(), pid: process.pid }, 'worker running');
      });
    }
    hooks.onStop.push(async () => {
      if (runner) {
        workerLog.info({ running: runner.active }, 'worker stopping');
        const { handedBack } = await runner.close();
        workerLog.info({ handedBack }, 'worker stopped');
      }
      await jobs.close();
      services.mail.close();
      await closeQuietly(blocking);
    });
  },
};
