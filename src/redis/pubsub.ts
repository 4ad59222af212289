/**
 * graphql-redis-subscriptions behind TypeGraphQL's PubSub interface, so an event
 * published on one instance reaches subscribers on every instance. Topics are
 * prefixed with the deployment's key prefix.
 */
import { RedisPubSub } from 'graphql-redis-subscriptions';
import type { PubSub } from 'type-graphql';
import type { RedisClient } from './connection';
import type { Keys } from './keys';

export class GatewayPubSub implements PubSub {
  private readonly engine: RedisPubSub;

  constructor(
    private readonly keys: Keys,
    publisher: RedisClient,
    private readonly subscriber: RedisClient,
  ) {
    // The library is typed against its own ioredis copy; the clients are API-compatible.
    this.engine = new RedisPubSub({ publisher: publisher as never, subscriber: subscriber as never });
  }

  private topic(routingKey: string, dynamicId?: unknown): string {
    const base = this.keys.channel(routingKey);
    if (dynamicId === undefined) return base;
    return `${base}:${typeof dynamicId === 'string' || typeof dynamicId === 'number' ? dynamicId : JSON.stringify(dynamicId)}`;
  }

  /** `publish(topic, payload)` or `publish(topic, id, payload)` as TypeGraphQL calls it. */
  publish(routingKey: string, ...args: unknown[]): void {
    const [dynamicId, payload] = args.length > 1 ? args : [undefined, args[0]];
    void this.engine.publish(this.topic(routingKey, dynamicId), payload).catch(() => {
      // Transient notifications: a publish lost while Redis is down is not retried.
    });
  }

  /** Awaits the publish, for callers that must know it reached Redis. */
  publishAsync(routingKey: string, payload: unknown, dynamicId?: unknown): Promise<void> {
    return this.engine.publish(this.topic(routingKey, dynamicId), payload);
  }

  subscribe(routingKey: string, dynamicId?: unknown): AsyncIterable<unknown> {
    return this.engine.asyncIterableIterator(this.topic(routingKey, dynamicId)) as AsyncIterable<unknown>;
  }

  /** Plain callback subscription for in-process listeners (e.g. session revocation). Returns an unsubscribe function. */
  async listen<T>(routingKey: string, onMessage: (payload: T) => void): Promise<() => void> {
    const id = await this.engine.subscribe<T>(this.topic(routingKey), onMessage);
    return () => this.engine.unsubscribe(id);
  }

  /**
   * Runs `fn` each time the subscriber connection comes back after losing Redis (messages
   * published meanwhile were lost); not on the first connect. Returns a function that stops it.
   */
  onResubscribe(fn: () => void): () => void {
    let wasDown = false;
    const down = (): void => {
      wasDown = true;
    };
    const up = (): void => {
      if (!wasDown) return;
      wasDown = false;
      fn();
    };
    this.subscriber.on('close', down);
    this.subscriber.on('ready', up);
    return () => {
      this.subscriber.off('close', down);
      this.subscriber.off('ready', up);
    };
  }
}
