/** prom-client registry and the gateway's instruments. One registry per app so tests can run several. */
import { Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export class Metrics {
  readonly registry = new Registry();
  readonly requests = new Counter({
    name: 'graphql_requests_total',
    help: 'GraphQL operations by name, type and outcome',
    labelNames: ['operation', 'type', 'outcome'] as const,
    registers: [this.registry],
  });
  readonly duration = new Histogram({
    name: 'graphql_request_duration_seconds',
    help: 'GraphQL operation latency by name and type',
    labelNames: ['operation', 'type'] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [this.registry],
  });
  readonly errors = new Counter({
    name: 'graphql_errors_total',
    help: 'GraphQL errors by extensions.code',
    labelNames: ['code'] as const,
    registers: [this.registry],
  });
  readonly redisDuration = new Histogram({
    name: 'redis_command_duration_seconds',
    help: 'Redis command latency by command',
    labelNames: ['command'] as const,
    buckets: [0.0001, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.1, 0.5, 1],
    registers: [this.registry],
  });
  readonly wsConnections = new Counter({
    name: 'websocket_connections_total',
    help: 'WebSocket connections accepted',
    registers: [this.registry],
  });

  constructor() {
    collectDefaultMetrics({ register: this.registry });
  }

  /** Times every command the client sends. */
  instrumentRedis(client: object): void {
    const hist = this.redisDuration;
    // One labelled child per command name: observing through it skips hashing the labels each time.
    const children = new Map<string, { observe(v: number): void }>();
    const target = client as unknown as { sendCommand: (cmd: { name: string; promise: Promise<unknown> }, ...rest: unknown[]) => unknown };
    const original = target.sendCommand.bind(client);
    target.sendCommand = (cmd, ...rest) => {
      const started = performance.now();
      const out = original(cmd, ...rest);
      let child = children.get(cmd.name);
      if (!child) children.set(cmd.name, (child = hist.labels(cmd.name)));
      const end = (): void => child.observe((performance.now() - started) / 1000);
      cmd.promise.then(end, end);
      return out;
    };
  }
}
