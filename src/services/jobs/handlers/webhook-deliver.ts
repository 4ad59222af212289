/**
 * webhook.deliver {url, payload}: POSTs payload as JSON to an allowed host with
 * an Idempotency-Key header (the job id, the same on every attempt) so that the
 * receiver can drop duplicates. Anything but a 2xx answer within
 * WEBHOOK_TIMEOUT fails the attempt; redirects are not followed.
 */
import { UnrecoverableError } from 'bullmq';
import { badInput } from '../../../util/errors';
import type { Services } from '../../container';
import type { JobHandler } from '../job-handler';

export interface WebhookDeliverData {
  url: string;
  payload: unknown;
}

/**
 * Whether `url`'s host[:port] is in the allow list. An entry without a port
 * allows the scheme's default port only; `host:port` allows exactly that port.
 */
export function webhookHostAllowed(url: URL, allowed: readonly string[]): boolean {
  const defaultPort = url.protocol === 'https:' ? '443' : '80';
  const host = url.hostname.toLowerCase();
  const candidates = new Set([`${host}:${url.port || defaultPort}`]);
  if (!url.port) candidates.add(host);
  return allowed.some((entry) => candidates.has(entry.toLowerCase()));
}

function parseUrl(raw: unknown): URL | string {
  if (typeof raw !== 'string' || raw.length > 2048) return 'must be a URL of at most 2048 characters';
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return 'must be an absolute http or https URL';
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return 'must be an absolute http or https URL';
  if (url.username || url.password) return 'must not carry credentials';
  return url;
}

export const webhookDeliver: JobHandler<WebhookDeliverData, Services> = {
  type: 'webhook.deliver',
  validate(raw, services) {
    const data = raw as Record<string, unknown>;
    const url = parseUrl(data.url);
    if (typeof url === 'string') throw badInput(`Invalid webhook.deliver data: data.url ${url}`, { 'data.url': [url] });
    if (!webhookHostAllowed(url, services.config.jobs.webhookAllowedHosts)) {
      throw badInput(`Invalid webhook.deliver data: ${url.host} is not in WEBHOOK_ALLOWED_HOSTS`, { 'data.url': ['host is not allowed'] });
    }
    if (!('payload' in data) || data.payload === undefined)
      throw badInput('Invalid webhook.deliver data: data.payload is required', { 'data.payload': ['is required'] });
    return { url: url.toString(), payload: data.payload };
  },
  async run(job, services) {
    const url = new URL(job.data.url);
    // The allow list may have shrunk since the job was accepted; retrying cannot help then.
    if (!webhookHostAllowed(url, services.config.jobs.webhookAllowedHosts)) throw new UnrecoverableError(`${url.host} is no longer in WEBHOOK_ALLOWED_HOSTS`);
    let res: Response;
    try {
      res = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'idempotency-key': job.id, 'user-agent': 'gateway-webhooks/1' },
        body: JSON.stringify(job.data.payload),
        redirect: 'manual',
        signal: AbortSignal.timeout(services.config.jobs.webhookTimeoutMs),
      });
    } catch (err) {
      const cause = (err as { cause?: { code?: string } }).cause?.code;
      throw new Error(`webhook unreachable: ${(err as Error).name === 'TimeoutError' ? 'timed out' : (cause ?? (err as Error).message)}`, { cause: err });
    }
    await res.body?.cancel().catch(() => undefined);
    if (res.status < 200 || res.status > 299) throw new Error(`webhook answered HTTP ${res.status}`);
    await job.updateProgress(100);
    return { status: res.status };
  },
};
