/**
 * Mail delivery for email.send. By default messages go to an outbox in Redis (a
 * list capped at OUTBOX_MAX, newest first) exactly once per job id; with
 * SMTP_URL they go to that server, and a per-job marker set after the send
 * keeps re-runs from sending again (a crash between the two can still send
 * twice, so the Message-ID is derived from the job id for receivers to dedupe).
 * A message may carry a sealed secret (mail-secret.ts): put in at delivery over
 * SMTP, withheld from the outbox, its box deleted once delivered.
 */
import { createTransport, type Transporter } from 'nodemailer';
import type { JobsConfig } from '../../config';
import type { RedisClient } from '../../redis/connection';
import type { Keys } from '../../redis/keys';
import { runScript } from '../../redis/scripts';
import { newId, openSecret, sealSecret } from '../../util/crypto';
import { MAIL_SECRET_PLACEHOLDER, SECRET_WITHHELD, type MailSecretRef } from './mail-secret';

export interface MailMessage {
  to: string;
  subject: string;
  body: string;
  /** A sealed secret to put where the body says {@link MAIL_SECRET_PLACEHOLDER} (internal senders only). */
  secret?: MailSecretRef;
}

export interface OutboxEntry extends MailMessage {
  jobId: string;
  from: string;
  /** ISO-8601. */
  at: string;
}

export interface Delivery {
  transport: 'outbox' | 'smtp';
  /** True when this job's message had already been delivered by an earlier run. */
  duplicate: boolean;
}

/** Markers outlive any re-run of a job: retries, stalled recovery and admin retries of kept failed jobs. */
const MARKER_TTL_MS = 30 * 86_400_000;

export class MailService {
  private smtp: Transporter | null = null;

  constructor(
    private readonly redis: RedisClient,
    private readonly keys: Keys,
    private readonly config: JobsConfig,
  ) {}

  /**
   * Seals `secret` for one message: its box is kept for `ttlMs` (or until the message is delivered); the
   * returned ref, which the job's data carries, names the box and holds the key that opens it.
   */
  async holdSecret(secret: string, ttlMs: number): Promise<MailSecretRef> {
    const { box, key } = sealSecret(secret);
    const ref = newId();
    await this.redis.set(this.keys.mailSecret(ref), box, 'PX', Math.max(1, ttlMs));
    return { ref, key };
  }

  /** Delivers the message of job `jobId` at most once. */
  async send(jobId: string, msg: MailMessage): Promise<Delivery> {
    if (this.config.smtpUrl) return this.sendSmtp(jobId, msg);
    const { secret, ...plain } = msg;
    const entry: OutboxEntry = { jobId, from: this.config.mailFrom, ...plain, at: new Date().toISOString() };
    if (secret) entry.body = entry.body.replaceAll(MAIL_SECRET_PLACEHOLDER, SECRET_WITHHELD);
    const added = await runScript<number>(
      this.redis,
      'outboxDeliver',
      [this.keys.outbox(), this.keys.outboxSent(jobId)],
      [JSON.stringify(entry), this.config.outboxMax, MARKER_TTL_MS],
    );
    if (secret) await this.redis.del(this.keys.mailSecret(secret.ref));
    return { transport: 'outbox', duplicate: added === 0 };
  }

  private async sendSmtp(jobId: string, msg: MailMessage): Promise<Delivery> {
    const marker = this.keys.outboxSent(jobId);
    if (await this.redis.exists(marker)) return { transport: 'smtp', duplicate: true };
    let text = msg.body;
    if (msg.secret) {
      const box = await this.redis.get(this.keys.mailSecret(msg.secret.ref));
      const secret = box === null ? null : openSecret(box, msg.secret.key);
      // Never sent without it: a message whose secret expired is of no use to its reader.
      if (secret === null) throw new Error('the message secret is gone (expired or already delivered)');
      text = text.replaceAll(MAIL_SECRET_PLACEHOLDER, secret);
    }
    this.smtp ??= createTransport(this.config.smtpUrl!);
    const domain = this.config.mailFrom.split('@')[1] ?? 'localhost';
    await this.smtp.sendMail({ from: this.config.mailFrom, to: msg.to, subject: msg.subject, text, messageId: `<${jobId}@${domain}>` });
    await Promise.all([this.redis.set(marker, '1', 'PX', MARKER_TTL_MS), msg.secret ? this.redis.del(this.keys.mailSecret(msg.secret.ref)) : null]);
    return { transport: 'smtp', duplicate: false };
  }

  /** The newest outbox messages, newest first. */
  async outbox(limit = 50): Promise<OutboxEntry[]> {
    const raw = await this.redis.lrange(this.keys.outbox(), 0, limit - 1);
    return raw.map((r) => JSON.parse(r) as OutboxEntry);
  }

  close(): void {
    this.smtp?.close();
  }
}
