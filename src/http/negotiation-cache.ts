/**
 * Apollo Server runs `negotiator` on the Accept header for every operation
 * (to pick the incremental-delivery format, again for the response content
 * type, and for GET to detect browsers), parsing every media range each
 * time: about 6% of the request path's CPU in `npm run bench -- pipeline`.
 * Clients send a handful of distinct Accept values and Apollo offers fixed
 * lists, so `Negotiator.prototype.mediaType` is memoized per (Accept,
 * offered types). Answers are the library's own, computed once per pair.
 */
import Negotiator from 'negotiator';

/** Distinct (Accept, offer) pairs remembered; past that (a client varying Accept on purpose) each is computed afresh. */
const MAX_CACHED = 512;

type WithRequest = Negotiator & { request: { headers: Record<string, string | string[] | undefined> } };

let installed = false;

/** Installs the memo once per process (Apollo and this module share the one `negotiator`). */
export function memoizeMediaTypeNegotiation(): void {
  if (installed) return;
  installed = true;
  // eslint-disable-next-line @typescript-eslint/unbound-method -- called below with .call(this, ...)
  const original = Negotiator.prototype.mediaType;
  const cache = new Map<string, string | undefined>();
  Negotiator.prototype.mediaType = function mediaType(this: WithRequest, available?: string[]): string | undefined {
    const accept = this.request?.headers?.accept;
    if (!available || (accept !== undefined && typeof accept !== 'string')) return original.call(this, available);
    // A missing header means */* to negotiator, unlike an empty one: they get different keys.
    const key = `${accept === undefined ? '\u0001' : accept}\u0000${available.join('\u0000')}`;
    if (cache.has(key)) return cache.get(key);
    const answer = original.call(this, available);
    if (cache.size < MAX_CACHED) cache.set(key, answer);
    return answer;
  };
}
