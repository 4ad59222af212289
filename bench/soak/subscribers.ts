/** The WebSocket subscribers: each socket holds analyticsEvents and liveStats, counts what arrives and checks it. */
import { setTimeout as sleep } from 'node:timers/promises';
import { createClient, type Client } from 'graphql-ws';
import WebSocket from 'ws';
import { ORDER_CONVERSION } from '../../src/services/analytics/analytics.service';
import type { Recorder } from './recorder';
import { UA } from './requests';

const SUBSCRIPTION_EVENTS = 'subscription SoakEvents { analyticsEvents { type page conversionType at } }';
const SUBSCRIPTION_LIVE =
  'subscription SoakLive { liveStats { at totalPageViews totalConversions uniqueVisitors topPages(limit: 5) { page views } viewsPerMinute { count } } }';

export class Subscribers {
  readonly clients: Client[] = [];
  readonly events: Uint32Array;
  readonly live: Uint32Array;
  readonly lastTotal: Float64Array;
  readonly latencies: number[] = [];
  lastArrival = 0;
  counting = false;
  closing = false;

  constructor(
    readonly n: number,
    private readonly rec: Recorder,
  ) {
    this.events = new Uint32Array(n);
    this.live = new Uint32Array(n);
    this.lastTotal = new Float64Array(n);
  }

  async open(url: string, token: string): Promise<void> {
    class UaWebSocket extends WebSocket {
      constructor(address: string, protocols?: string | string[]) {
        super(address, protocols, { headers: { 'user-agent': UA } });
      }
    }
    for (let i = 0; i < this.n; i++) {
      const client = createClient({
        url: url.replace(/^http/, 'ws') + '/graphql',
        webSocketImpl: UaWebSocket,
        connectionParams: { authorization: `Bearer ${token}` },
        retryAttempts: 0,
        lazy: false,
        on: {
          closed: (e) => {
            if (!this.closing)
              this.rec.fail(
                'subscriber',
                'WS_CLOSED',
                `socket ${i} closed: ${(e as { code?: number }).code ?? ''} ${(e as { reason?: string }).reason ?? ''}`,
                false,
              );
          },
        },
      });
      this.clients.push(client);
      const sink = (what: string) => ({
        error: (err: unknown) => {
          if (!this.closing) this.rec.fail('subscriber', 'SUBSCRIPTION_ERROR', `${what} ${i}: ${JSON.stringify(err).slice(0, 200)}`, false);
        },
        complete: () => {
          if (!this.closing) this.rec.fail('subscriber', 'SUBSCRIPTION_ENDED', `${what} ${i} completed`, false);
        },
      });
      client.subscribe<{ analyticsEvents: { type: string; page: string | null; conversionType: string | null; at: string } }>(
        { query: SUBSCRIPTION_EVENTS },
        {
          next: (v) => {
            if (v.errors?.length) this.rec.fail('subscriber', 'SUBSCRIPTION_ERROR', JSON.stringify(v.errors).slice(0, 200), false);
            const e = v.data?.analyticsEvents;
            // A completed order publishes a conversion of its own: the workload tracks only the others.
            if (!e || e.conversionType === ORDER_CONVERSION) return;
            this.lastArrival = Date.now();
            if (this.counting || this.events[i] === 0) this.events[i]++;
            if (this.counting) this.latencies.push(this.lastArrival - Date.parse(e.at));
          },
          ...sink('analyticsEvents'),
        },
      );
      client.subscribe<{ liveStats: { totalPageViews: number } }>(
        { query: SUBSCRIPTION_LIVE },
        {
          next: (v) => {
            if (v.errors?.length) this.rec.fail('subscriber', 'SUBSCRIPTION_ERROR', JSON.stringify(v.errors).slice(0, 200), false);
            const s = v.data?.liveStats;
            if (!s) return;
            if (this.counting || this.live[i] === 0) this.live[i]++;
            if (s.totalPageViews < this.lastTotal[i])
              this.rec.fail('liveStats', 'WRONG_ANSWER', `subscriber ${i}: totalPageViews went from ${this.lastTotal[i]} back to ${s.totalPageViews}`, false);
            this.lastTotal[i] = s.totalPageViews;
          },
          ...sink('liveStats'),
        },
      );
      if (i % 25 === 24) await sleep(50);
    }
  }

  ready(): boolean {
    return this.events.every((x) => x > 0) && this.live.every((x) => x > 0);
  }

  startCounting(): void {
    this.events.fill(0);
    this.live.fill(0);
    this.latencies.length = 0;
    this.counting = true;
  }

  sum(xs: Uint32Array): number {
    return xs.reduce((a, b) => a + b, 0);
  }

  async close(): Promise<void> {
    this.closing = true;
    await Promise.all(this.clients.map(async (c) => c.dispose()));
  }
}
