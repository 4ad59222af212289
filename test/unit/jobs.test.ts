/** Pure parts of the job system: backoff, priority mapping, webhook allow list, handler discovery, config. */
import { loadConfig } from '../../src/config';
import { fromBullPriority, jobStateOf, toBullPriority } from '../../src/services/jobs/job-record';
import { JobState } from '../../src/types/jobs/job.type';
import { webhookHostAllowed } from '../../src/services/jobs/handlers/webhook-deliver';
import { JobTypes, loadHandlers } from '../../src/services/jobs/job-types';
import { MAX_BACKOFF_MS, backoffDelay } from '../../src/worker/job-runner';

test('backoff doubles per failed attempt, loses at most 20% to jitter, and is capped at an hour', () => {
  expect([1, 2, 3, 4].map((n) => backoffDelay(n, 1000, () => 0))).toEqual([1000, 2000, 4000, 8000]);
  expect([1, 2, 3, 4].map((n) => backoffDelay(n, 1000, () => 1))).toEqual([800, 1600, 3200, 6400]);
  for (let i = 0; i < 200; i++) {
    const d = backoffDelay(3, 1000);
    expect(d).toBeGreaterThanOrEqual(3200);
    expect(d).toBeLessThanOrEqual(4000);
  }
  expect(backoffDelay(40, 1000, () => 0)).toBe(MAX_BACKOFF_MS);
});

test('client priority (higher first) maps onto BullMQ priority (lower first), every job prioritized', () => {
  expect(toBullPriority(1000)).toBe(1);
  expect(toBullPriority(0)).toBe(1001);
  expect(toBullPriority(-1000)).toBe(2001);
  for (const p of [-1000, -1, 0, 1, 1000]) expect(fromBullPriority(toBullPriority(p))).toBe(p);
  expect(toBullPriority(5)).toBeLessThan(toBullPriority(4));
});

test('BullMQ states collapse onto the five JobStates', () => {
  expect(['waiting', 'prioritized', 'paused', 'delayed', 'active', 'completed', 'failed', 'unknown'].map(jobStateOf)).toEqual([
    JobState.WAITING,
    JobState.WAITING,
    JobState.WAITING,
    JobState.DELAYED,
    JobState.ACTIVE,
    JobState.COMPLETED,
    JobState.FAILED,
    undefined,
  ]);
});

test('webhook allow list: host:port exactly, a bare host on its scheme default port only', () => {
  const allowed = ['hooks.example.com', 'api.example.com:8443', '127.0.0.1:9000', '[::1]:7000'];
  const ok = (u: string): boolean => webhookHostAllowed(new URL(u), allowed);
  expect(ok('https://hooks.example.com/x')).toBe(true);
  expect(ok('http://HOOKS.example.com/x')).toBe(true);
  expect(ok('https://hooks.example.com:443/x')).toBe(true);
  expect(ok('https://hooks.example.com:8080/x')).toBe(false);
  expect(ok('https://api.example.com:8443/x')).toBe(true);
  expect(ok('https://api.example.com/x')).toBe(false);
  expect(ok('http://127.0.0.1:9000/')).toBe(true);
  expect(ok('http://127.0.0.1:9001/')).toBe(false);
  expect(ok('http://[::1]:7000/')).toBe(true);
  expect(ok('https://hooks.example.com.evil.com/')).toBe(false);
  expect(ok('https://evil.com/?hooks.example.com')).toBe(false);
});

test('every handler file of src/worker/handlers is found, each type once', () => {
  const types = loadHandlers().map((h) => h.type);
  expect(types).toEqual(expect.arrayContaining(['email.send', 'webhook.deliver', 'order.process']));
  expect(new Set(types).size).toBe(types.length);
  const registry = new JobTypes();
  expect(() => registry.register(loadHandlers()[0])).toThrow(/registered twice/);
});

test('job settings: defaults and refusals', () => {
  const c = loadConfig({});
  expect(c.jobs).toMatchObject({
    backoffMs: 1000,
    defaultMaxAttempts: 3,
    lockMs: 30_000,
    shutdownGraceMs: 5000,
    maxDataBytes: 65536,
    webhookTimeoutMs: 10_000,
    smtpUrl: null,
    mailFrom: 'gateway@localhost',
    outboxMax: 10_000,
  });
  expect(c.jobs.keepCompleted).toEqual({ count: 1000, ageMs: 86_400_000 });
  expect(c.jobs.keepFailed).toEqual({ count: 10_000, ageMs: 7 * 86_400_000 });
  expect(() => loadConfig({ JOB_BACKOFF: 'soon' })).toThrow(/JOB_BACKOFF/);
  expect(() => loadConfig({ JOB_MAX_ATTEMPTS: '0' })).toThrow(/JOB_MAX_ATTEMPTS/);
  expect(() => loadConfig({ SMTP_URL: 'http://mail' })).toThrow(/SMTP_URL/);
  expect(() => loadConfig({ SMTP_URL: 'smtp://user:secret@mail' })).not.toThrow();
  expect(() => loadConfig({ SMTP_URL: 'ftp://user:secret@mail' })).toThrow(/\*\*\*@mail/);
  expect(() => loadConfig({ MAIL_FROM: 'nobody' })).toThrow(/MAIL_FROM/);
  expect(() => loadConfig({ JOB_LOCK_DURATION: '500ms' })).toThrow(/JOB_LOCK_DURATION/);
});
