/**
 * requestPasswordReset takes about as long for a known address as for an unknown one, seen from
 * outside: a real gateway process (built, spawned, its worker sending through a real SMTP server in
 * this process) is timed by this process's HTTP client. In one process the work a known address sets
 * off after its answer would share the event loop with the client that times it; a remote client
 * shares nothing. Figures are printed, not asserted (docs/sessions.md "Measured" records them).
 */
import { buildGateway, type Build } from '../helpers/build';
import { spawnGateway, type GatewayProcess } from '../helpers/gateway-process';
import { gqlRequest, registerUser } from '../helpers/app';
import { flushPrefix, testRedisUrl, uniquePrefix } from '../helpers/redis';
import { smtpCatcher, type SmtpCatcher } from '../helpers/smtp';

const REQUEST = 'mutation R($e: String!) { requestPasswordReset(email: $e) }';
const ROUNDS = 60;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const median = (xs: number[]) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)];
const quantile = (xs: number[], q: number) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length * q)];

let build: Build;
let smtp: SmtpCatcher;
let gw: GatewayProcess;
let url: string;
const prefix = uniquePrefix('reset-timing');

beforeAll(async () => {
  [build, smtp] = await Promise.all([buildGateway(), smtpCatcher()]);
  gw = spawnGateway(build.entry, {
    PORT: '0',
    HOST: '127.0.0.1',
    KEY_PREFIX: prefix,
    LOG_LEVEL: 'info',
    REDIS_URL: testRedisUrl(),
    RATE_LIMIT_DEFAULT: 'off',
    SCRYPT_N: '1024',
    WORKER: '1',
    SMTP_URL: smtp.url,
  });
  url = String((await gw.waitFor((l) => l.msg === 'gateway listening', 30_000)).url);
}, 120_000);

afterAll(async () => {
  gw?.kill('SIGTERM');
  await gw?.exited;
  await smtp?.close();
  build?.remove();
  await flushPrefix(prefix);
});

test('known and unknown addresses: the same answer, about the same time (measured, not asserted)', async () => {
  const u = await registerUser({ gql: (q, v, o) => gqlRequest(url, q, v, o) });
  const known: number[] = [];
  const unknown: number[] = [];
  const timed = async (email: string): Promise<number> => {
    const started = performance.now();
    const res = await gqlRequest(url, REQUEST, { e: email });
    const ms = performance.now() - started;
    expect(res.data?.requestPasswordReset).toBe(true);
    return ms;
  };
  for (let i = 0; i < 5; i++) await timed(`warm-up-${i}@example.com`);
  for (let i = 0; i < ROUNDS; i++) {
    // Alternated, and each known request's email delivered before the next request is timed.
    known.push(await timed(u.email));
    await smtp.next(u.email, i + 1);
    await sleep(10);
    unknown.push(await timed(`unknown-${i}-${u.email}`));
    await sleep(10);
  }
  const line = (xs: number[]) => `median ${median(xs).toFixed(2)} ms, p10 ${quantile(xs, 0.1).toFixed(2)}, p90 ${quantile(xs, 0.9).toFixed(2)}`;
  console.log(
    `requestPasswordReset, ${ROUNDS} each, from another process: known ${line(known)}; unknown ${line(unknown)}; median difference ${(median(known) - median(unknown)).toFixed(2)} ms`,
  );
  // Only the known address got mail.
  expect(smtp.received.filter((m) => m.to.some((to) => to.startsWith('unknown-') || to.startsWith('warm-up-')))).toEqual([]);
  expect(smtp.received.filter((m) => m.to.includes(u.email))).toHaveLength(ROUNDS);
}, 120_000);
