/**
 * What a page view says besides its page, reduced to short values from small alphabets before
 * anything is counted: the referrer's host, `utm_source` and `utm_campaign` from the page's
 * query string, and the browser family and device class from the request's User-Agent (read
 * with ua-parser-js; bots recognised with isbot). Every value is bounded in length and charset
 * here; the daily rollups also bound how many distinct values a day keeps (ANALYTICS_MAX_VALUES_PER_DAY),
 * and a value only ever reaches a key name as a digest.
 */
import { createHash } from 'node:crypto';
import { isbot } from 'isbot';
import UAParser from 'ua-parser-js';

/** Placeholders: in parentheses, which no real value can contain, so they never collide with one. */
export const DIRECT = '(direct)';
export const NO_VALUE = '(none)';
export const UNKNOWN = '(unknown)';
export const INVALID = '(invalid)';

export const MAX_HOST_LENGTH = 253;
export const MAX_UTM_LENGTH = 64;
export const MAX_BROWSER_LENGTH = 32;

export type DeviceClass = 'desktop' | 'mobile' | 'tablet' | 'bot';

export interface ClientFacts {
  bot: boolean;
  /** The browser family (`Chrome`, `Mobile Safari`, `Firefox`...), `(unknown)` when none is recognised. */
  browser: string;
  device: DeviceClass;
}

/** Parsed User-Agents, a few hundred at most: the same browsers come back all day. Pure, so per instance is fine. */
const CACHE_SIZE = 512;
const cache = new Map<string, ClientFacts>();

/** A host name (or bracketed IPv6 address) as the URL parser gives it, lower case. */
const HOST = /^(?:[a-z0-9-]+(?:\.[a-z0-9-]+)*|\[[0-9a-f:.]+\])$/;

function browserName(raw: string | undefined): string {
  const name = (raw ?? '')
    .replace(/[^A-Za-z0-9 ._-]+/g, ' ')
    .replace(/\s+/g, ' ')
    .trim()
    .slice(0, MAX_BROWSER_LENGTH)
    .trim();
  return name || UNKNOWN;
}

function parse(ua: string): ClientFacts {
  if (isbot(ua)) return { bot: true, browser: UNKNOWN, device: 'bot' };
  const r = new UAParser(ua).getResult();
  const type = r.device.type;
  const device: DeviceClass = type === 'mobile' || type === 'wearable' ? 'mobile' : type === 'tablet' ? 'tablet' : 'desktop';
  return { bot: false, browser: browserName(r.browser.name), device };
}

/**
 * Browser, device class and whether it is a bot. No User-Agent at all is not a bot (a caller
 * inside the gateway, a test); isbot's list counts HTTP libraries (`curl`, `node`, `python-requests`)
 * as bots along with crawlers and headless browsers.
 */
export function clientFacts(userAgent: string | undefined): ClientFacts {
  if (!userAgent) return { bot: false, browser: UNKNOWN, device: 'desktop' };
  // A User-Agent longer than this is not a browser's; parse a prefix so the work stays bounded.
  const ua = userAgent.slice(0, 512);
  let facts = cache.get(ua);
  if (!facts) {
    facts = parse(ua);
    if (cache.size >= CACHE_SIZE) cache.clear();
    cache.set(ua, facts);
  }
  return facts;
}

/** The referrer's host name, lower case; `(direct)` without a referrer, `(invalid)` when it has no usable host. */
export function referrerHost(referrer: string | null | undefined): string {
  if (!referrer) return DIRECT;
  let host: string;
  try {
    host = new URL(referrer).hostname.toLowerCase();
  } catch {
    return INVALID;
  }
  host = host.replace(/\.$/, '');
  return host.length > 0 && host.length <= MAX_HOST_LENGTH && HOST.test(host) ? host : INVALID;
}

/**
 * A UTM parameter of the page's query string (the first occurrence), decoded, lower case, every
 * run of characters other than letters, digits, `.`, `_` and `-` turned into one `_`, cut to 64
 * characters; `(none)` when absent or empty.
 */
export function utmValue(page: string, name: 'utm_source' | 'utm_campaign'): string {
  const q = page.indexOf('?');
  if (q < 0) return NO_VALUE;
  const end = page.indexOf('#', q);
  const raw = new URLSearchParams(page.slice(q + 1, end < 0 ? undefined : end)).get(name);
  if (raw === null) return NO_VALUE;
  const value = raw
    .toLowerCase()
    .replace(/[^a-z0-9._-]+/g, '_')
    .replace(/^_+|_+$/g, '')
    .slice(0, MAX_UTM_LENGTH);
  return value || NO_VALUE;
}

const digests = new Map<string, string>();

/** What a value is called in a key name: 96 bits of SHA-256, base64url (remembered: the same values come back all day). */
export function valueDigest(value: string): string {
  let d = digests.get(value);
  if (d === undefined) {
    d = createHash('sha256').update(value).digest('base64url').slice(0, 16);
    if (digests.size >= 20_000) digests.clear();
    digests.set(value, d);
  }
  return d;
}
