/**
 * The assembled stack: what a team would put together for the gateway's job from the usual
 * packages, as a permanent baseline (`npm run bench -- peer`, docs/performance.md). Express 5,
 * express-session with connect-redis 9 as its store, rate-limiter-flexible's RateLimiterRedis (one
 * limiter per user, like the gateway's per-user default policy), Apollo Server 5 through
 * `@as-integrations/express5`, and a TypeGraphQL resolver `me { id }` that reads the user's hash
 * (`HGETALL`, the gateway's own `Keys.user(id)`, so both sides answer from the same account).
 * Each package is used as its documentation shows; nothing is tuned (one ioredis client with its
 * defaults: no auto-pipelining).
 *
 * Sign-in: `POST /login` with `{ email, password }` checks the password hash the gateway stored
 * (the gateway's scrypt format, `verifyPassword`), regenerates the session (no fixation) and sets
 * `req.session.userId`; the signed cookie it answers with is what the load sends.
 *
 * Sessions: `rolling: true` and a cookie `maxAge` of 30 minutes give the gateway's sliding idle
 * timeout (`SESSION_IDLE_TTL=30m`): every request resets the cookie and the Redis key's TTL
 * (connect-redis `touch`, an `EXPIRE`, sent before the answer leaves; the gateway moves its
 * deadline only once it lags by a tenth of the idle lifetime). The session id is the same
 * kind of secret as the gateway's token: 32 bytes from the CSPRNG, base64url (`genid: newToken`).
 *
 * Its Redis work for a signed-in `{ me { id } }`, each step waiting for the one before: the
 * session `GET`, the limiter's script (`EVALSHA`: `SET NX`, `INCRBY`, `PTTL`), the user's
 * `HGETALL`, the session's `EXPIRE`: four round trips, three with the limiter off.
 *
 * What it does not guarantee that the gateway does (docs/sessions.md, docs/rate-limits.md):
 * - Secret at rest: express-session stores each session under its raw id (`bench:peer-sess:<id>`),
 *   so anyone who can read Redis (a replica, a backup, `MONITOR`, `SCAN`) holds every live id; the
 *   cookie is the id plus an HMAC of it under the app's secret, so using one takes that secret too,
 *   which usually sits beside the Redis password. The gateway's Redis holds only SHA-256 of each
 *   token: reading all of Redis and all of the configuration gives no usable session.
 * - Absolute expiry: none. A session used at least every 30 minutes lives for ever; the gateway
 *   ends every session at `SESSION_MAX_AGE` (7 days) after sign-in, however active.
 * - Hijack check: none. A stolen cookie works from any client; the gateway revokes a session used
 *   from another user-agent family. Nor is there a per-user index: no cap on a user's sessions, no
 *   "sign out everywhere" without a `SCAN` of every session.
 * - Exact limits: RateLimiterRedis counts in fixed windows (`INCRBY` on a key that expires with
 *   the window), so a client may spend up to twice its points in one window's length across a
 *   boundary, and refused requests still count. The gateway's GCRA admits exactly N from a fresh
 *   budget, then refills steadily, and a refused request charges nothing.
 * One thing it does that the gateway trades for speed: it reads the session from Redis on every
 * request, so a destroyed session stops at once. The gateway keeps a checked session (and its
 * user) up to 800 ms per instance and drops it everywhere over pub/sub when it ends; should that
 * message be lost, the entry's lifetime ends it within a second (docs/sessions.md).
 *
 * connect-redis 9 documents only node-redis (its peer dependency `redis` >= 5) and calls that
 * client's API: `set(key, value, { expiration })`, `del([keys])`, `mGet`, `scanIterator`. It has
 * no documented ioredis path, so a thin adapter below maps those calls onto ioredis (`get` and
 * `expire` are the same in both); the store issues the same commands either way.
 */
import 'reflect-metadata';
import { createServer, type Server } from 'node:http';
import { ApolloServer } from '@apollo/server';
import { expressMiddleware } from '@as-integrations/express5';
import { RedisStore } from 'connect-redis';
import express, { type NextFunction, type Request, type Response } from 'express';
import session from 'express-session';
import Redis from 'ioredis';
import { RateLimiterRedis, RateLimiterRes } from 'rate-limiter-flexible';
import { buildSchema, Ctx, Field, ID, ObjectType, Query, Resolver } from 'type-graphql';
import { Keys } from '../../src/redis/keys';
import { normalizeEmail } from '../../src/services/sessions/user.service';
import { newToken, verifyPassword } from '../../src/util/crypto';
import { listenOnLoopback, type LoopbackServer } from '../loopback';

declare module 'express-session' {
  interface SessionData {
    userId?: string;
  }
}

export type AssembledServer = LoopbackServer;

export interface AssembledOptions {
  redisUrl: string;
  /** The gateway's KEY_PREFIX: the user hashes are read where the gateway wrote them. */
  keyPrefix: string;
  /** Sliding idle timeout of a session (cookie maxAge and the Redis TTL). */
  idleTtlMs: number;
  /** Per-user rate limit: points per minute, or null for no limiter at all. */
  limitPerMinute: number | null;
}

/** node-redis v5's calls that connect-redis 9 makes, on ioredis. */
function nodeRedisFace(redis: Redis) {
  return {
    get: (key: string) => redis.get(key),
    set: (key: string, value: string, opts?: { expiration?: { type: 'EX'; value: number } }) =>
      opts?.expiration ? redis.set(key, value, 'EX', opts.expiration.value) : redis.set(key, value),
    expire: (key: string, seconds: number) => redis.expire(key, seconds),
    del: (keys: string[]) => redis.del(...keys),
    mGet: (keys: string[]) => redis.mget(keys),
    async *scanIterator({ MATCH, COUNT }: { MATCH: string; COUNT: number }): AsyncGenerator<string[]> {
      let cursor = '0';
      do {
        const [next, keys] = await redis.scan(cursor, 'MATCH', MATCH, 'COUNT', COUNT);
        cursor = next;
        if (keys.length) yield keys;
      } while (cursor !== '0');
    },
  };
}

interface PeerContext {
  userId?: string;
  redis: Redis;
  keys: Keys;
}

@ObjectType('User')
class PeerUser {
  @Field(() => ID)
  id!: string;
}

@Resolver()
class PeerMeResolver {
  @Query(() => PeerUser, { nullable: true })
  async me(@Ctx() ctx: PeerContext): Promise<PeerUser | null> {
    if (!ctx.userId) return null;
    const h = await ctx.redis.hgetall(ctx.keys.user(ctx.userId));
    return h.id ? { id: h.id } : null;
  }
}

export async function startAssembledServer(opts: AssembledOptions): Promise<AssembledServer> {
  const keys = new Keys(opts.keyPrefix);
  const redis = new Redis(opts.redisUrl);
  await new Promise<void>((resolve, reject) => {
    redis.once('ready', resolve);
    redis.once('error', reject);
  });

  const schema = await buildSchema({ resolvers: [PeerMeResolver], validate: false });
  const apollo = new ApolloServer<PeerContext>({ schema });
  await apollo.start();

  const limiter =
    opts.limitPerMinute === null
      ? null
      : new RateLimiterRedis({ storeClient: redis, keyPrefix: `${opts.keyPrefix}:peer-rl`, points: opts.limitPerMinute, duration: 60 });

  const app = express();
  app.use(
    session({
      store: new RedisStore({ client: nodeRedisFace(redis), prefix: `${opts.keyPrefix}:peer-sess:` }),
      secret: newToken(),
      name: 'sid',
      genid: newToken,
      resave: false,
      saveUninitialized: false,
      rolling: true,
      // secure: false only because the bench speaks plain HTTP on 127.0.0.1; behind TLS it is true.
      cookie: { maxAge: opts.idleTtlMs, httpOnly: true, sameSite: 'lax', secure: false },
    }),
  );

  app.post('/login', express.json(), async (req: Request, res: Response, next: NextFunction) => {
    try {
      const { email, password } = (req.body ?? {}) as { email?: string; password?: string };
      const id = typeof email === 'string' ? await redis.get(keys.userEmail(normalizeEmail(email))) : null;
      const user = id ? await redis.hgetall(keys.user(id)) : {};
      if (!user.pw || typeof password !== 'string' || !(await verifyPassword(password, user.pw))) {
        res.status(401).json({ error: 'wrong email or password' });
        return;
      }
      req.session.regenerate((err) => {
        if (err) return next(err);
        req.session.userId = user.id;
        res.json({ id: user.id });
      });
    } catch (err) {
      next(err);
    }
  });

  if (limiter) {
    app.use('/graphql', async (req: Request, res: Response, next: NextFunction) => {
      try {
        await limiter.consume(req.session.userId ? `user:${req.session.userId}` : `ip:${req.ip}`);
        next();
      } catch (err) {
        if (!(err instanceof RateLimiterRes)) return next(err);
        res.set('Retry-After', String(Math.ceil(err.msBeforeNext / 1000)));
        res.status(429).json({ errors: [{ message: 'Too many requests' }] });
      }
    });
  }

  app.use('/graphql', express.json(), expressMiddleware(apollo, { context: async ({ req }) => ({ userId: req.session.userId, redis, keys }) }));

  const server: Server = createServer(app);
  return listenOnLoopback(server, async () => {
    await apollo.stop();
    redis.disconnect();
  });
}
