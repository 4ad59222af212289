/** Background jobs: where workers run, retries, locks, retention, quotas, transports. */
import { ConfigError, duration, int, list, str, withoutPassword, type Env } from './parse';

export interface JobsConfig {
  /** WORKER=1: job workers run inside this process. Default on (`npm run worker` runs them on their own). */
  readonly runInProcess: boolean;
  /** WORKER_CONCURRENCY: jobs one worker runs at once. Default 8. */
  readonly concurrency: number;
  /** WEBHOOK_ALLOWED_HOSTS: the `host[:port]`s webhook.deliver may call. Default none. */
  readonly webhookAllowedHosts: readonly string[];
  /** Delay before the second attempt; doubles per attempt up to 1 h, less up to 20% jitter. Default 1s (JOB_BACKOFF). */
  readonly backoffMs: number;
  /** Attempts when enqueueJob names none. Default 3 (JOB_MAX_ATTEMPTS). */
  readonly defaultMaxAttempts: number;
  /** Lock on a running job: a worker that dies loses its jobs to another after this. Default 30s (JOB_LOCK_DURATION). */
  readonly lockMs: number;
  /** How long SIGTERM waits for running jobs before handing them back. Default 5s (WORKER_SHUTDOWN_GRACE). */
  readonly shutdownGraceMs: number;
  /** Completed jobs kept: at most `count`, none older than `ageMs`. Default 1000 / 24h (JOB_KEEP_COMPLETED, JOB_KEEP_COMPLETED_AGE). */
  readonly keepCompleted: { readonly count: number; readonly ageMs: number };
  /** Dead-lettered jobs kept. Default 10000 / 7d (JOB_KEEP_FAILED, JOB_KEEP_FAILED_AGE). */
  readonly keepFailed: { readonly count: number; readonly ageMs: number };
  /** How often each worker runs the handlers' recovery sweeps. Default 30s (JOB_RECOVER_INTERVAL). */
  readonly recoverIntervalMs: number;
  /** An order PENDING for longer than this is handed to the queue again by the sweep. Default 1m (ORDER_REQUEUE_AFTER). */
  readonly orderRequeueAfterMs: number;
  /** Largest job data, as JSON. Default 64 KiB (JOB_MAX_DATA_BYTES). */
  readonly maxDataBytes: number;
  /** Per-attempt timeout of webhook.deliver. Default 10s (WEBHOOK_TIMEOUT). */
  readonly webhookTimeoutMs: number;
  /** email.send goes through this SMTP server when set (smtp:// or smtps://); else to the Redis outbox. Default unset (SMTP_URL). */
  readonly smtpUrl: string | null;
  /** Sender of email.send. Default gateway@localhost (MAIL_FROM). */
  readonly mailFrom: string;
  /** Messages the Redis outbox keeps, newest first. Default 10000 (OUTBOX_MAX). */
  readonly outboxMax: number;
  /** Jobs one owner may hold WAITING or DELAYED. Default 200 (JOB_MAX_PENDING_PER_USER). */
  readonly maxPendingPerUser: number;
  /** Bytes of job data (as stored, JSON) those jobs may hold together. Default 4 MiB (JOB_MAX_PENDING_BYTES_PER_USER). */
  readonly maxPendingBytesPerUser: number;
}

export function readJobs(env: Env): JobsConfig {
  const worker = str(env, 'WORKER') ?? '1';
  if (worker !== '0' && worker !== '1') throw new ConfigError('WORKER', '1 or 0', worker);
  const webhookAllowedHosts = list(env, 'WEBHOOK_ALLOWED_HOSTS');
  for (const h of webhookAllowedHosts) {
    if (!/^[A-Za-z0-9.-]+(:\d{1,5})?$|^\[[0-9a-fA-F:]+\](:\d{1,5})?$/.test(h)) throw new ConfigError('WEBHOOK_ALLOWED_HOSTS', 'comma-separated host[:port]', h);
  }
  const smtpUrl = str(env, 'SMTP_URL') ?? null;
  if (smtpUrl !== null && !/^smtps?:\/\/\S+$/.test(smtpUrl)) throw new ConfigError('SMTP_URL', 'an smtp:// or smtps:// URL', withoutPassword(smtpUrl));
  const mailFrom = str(env, 'MAIL_FROM') ?? 'gateway@localhost';
  if (!/^[^\s@<>]+@[^\s@<>]+$/.test(mailFrom)) throw new ConfigError('MAIL_FROM', 'an email address', mailFrom);
  // Locks are renewed at half their duration; much shorter and a busy event loop loses them.
  const lockMs = duration(env, 'JOB_LOCK_DURATION', '30s');
  if (lockMs < 1000) throw new ConfigError('JOB_LOCK_DURATION', 'a duration of at least 1s', str(env, 'JOB_LOCK_DURATION') ?? '');
  return {
    runInProcess: worker === '1',
    concurrency: int(env, 'WORKER_CONCURRENCY', 8, 1, 1000),
    webhookAllowedHosts,
    backoffMs: duration(env, 'JOB_BACKOFF', '1s'),
    defaultMaxAttempts: int(env, 'JOB_MAX_ATTEMPTS', 3, 1, 25),
    lockMs,
    shutdownGraceMs: duration(env, 'WORKER_SHUTDOWN_GRACE', '5s'),
    keepCompleted: { count: int(env, 'JOB_KEEP_COMPLETED', 1000, 0, 10_000_000), ageMs: duration(env, 'JOB_KEEP_COMPLETED_AGE', '24h') },
    keepFailed: { count: int(env, 'JOB_KEEP_FAILED', 10_000, 0, 10_000_000), ageMs: duration(env, 'JOB_KEEP_FAILED_AGE', '7d') },
    recoverIntervalMs: duration(env, 'JOB_RECOVER_INTERVAL', '30s'),
    orderRequeueAfterMs: duration(env, 'ORDER_REQUEUE_AFTER', '1m'),
    maxDataBytes: int(env, 'JOB_MAX_DATA_BYTES', 64 * 1024, 256, 16 * 1024 * 1024),
    webhookTimeoutMs: duration(env, 'WEBHOOK_TIMEOUT', '10s'),
    smtpUrl,
    mailFrom,
    outboxMax: int(env, 'OUTBOX_MAX', 10_000, 1, 10_000_000),
    maxPendingPerUser: int(env, 'JOB_MAX_PENDING_PER_USER', 200, 1, 1_000_000),
    // At most GraphQL's Int, which myJobQuota reports it in.
    maxPendingBytesPerUser: int(env, 'JOB_MAX_PENDING_BYTES_PER_USER', 4 * 1024 * 1024, 1024, 2_147_483_647),
  };
}
