/**
 * The baseline: node:http + ioredis doing exactly the session check the gateway
 * does for `{ me { id } }` (SHA-256 of the bearer token, the sessionTouch Lua
 * script via defineCommand, HGETALL of the user) and a JSON reply, with none of
 * the GraphQL machinery. Its Redis client has the gateway's options (auto-pipelining),
 * so the two differ only in the request path.
 */
import { createHash } from 'node:crypto';
import { createServer, type Server, type ServerResponse } from 'node:http';
import path from 'node:path';
import Redis from 'ioredis';
import { sessionRefreshStep } from '../src/config/sessions';
import { Keys } from '../src/redis/keys';
import { expandLua } from '../src/redis/lua-includes';
import { userAgentFamily } from '../src/util/user-agent';
import { listenOnLoopback, type LoopbackServer } from './loopback';

type Touch = (key: string, now: number, idleMs: number, uaFamily: string, uaCheck: string, graceMs: number, stepMs: number) => Promise<[number, string[]?]>;

export type RawServer = LoopbackServer;

export async function startRawServer(opts: { redisUrl: string; keyPrefix: string; idleTtlMs: number; luaDir: string }): Promise<RawServer> {
  // The gateway's refresh step for this idle lifetime: its script then writes exactly as often.
  const stepMs = sessionRefreshStep(opts.idleTtlMs);
  const keys = new Keys(opts.keyPrefix);
  const redis = new Redis(opts.redisUrl, { maxRetriesPerRequest: 1, enableOfflineQueue: false, commandTimeout: 1000, enableAutoPipelining: true });
  redis.defineCommand('sessionTouch', { numberOfKeys: 1, lua: expandLua(path.join(opts.luaDir, 'sessionTouch-1.lua')) });
  const touch = (redis as unknown as { sessionTouch: Touch }).sessionTouch.bind(redis);
  await new Promise<void>((resolve, reject) => {
    redis.once('ready', resolve);
    redis.once('error', reject);
  });

  const reply = (res: ServerResponse, status: number, body: unknown): void => {
    const text = JSON.stringify(body);
    res.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': Buffer.byteLength(text) });
    res.end(text);
  };

  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      void (async () => {
        try {
          JSON.parse(Buffer.concat(chunks).toString('utf8'));
          const m = /^Bearer\s+([A-Za-z0-9_-]{16,128})\s*$/i.exec(req.headers.authorization ?? '');
          if (!m) return reply(res, 200, { data: { me: null } });
          const hash = createHash('sha256').update(m[1]).digest('hex');
          const touched = await touch(keys.session(hash), Date.now(), opts.idleTtlMs, userAgentFamily(req.headers['user-agent']), '1', 0, stepMs);
          if (touched[0] !== 1 || !touched[1]) return reply(res, 200, { data: { me: null } });
          const flat = touched[1];
          let uid = '';
          for (let i = 0; i < flat.length; i += 2) if (flat[i] === 'uid') uid = flat[i + 1];
          const user = uid ? await redis.hgetall(keys.user(uid)) : {};
          reply(res, 200, { data: { me: user.id ? { id: user.id } : null } });
        } catch (err) {
          reply(res, 500, { errors: [{ message: (err as Error).message }] });
        }
      })();
    });
  });
  return listenOnLoopback(server, () => redis.disconnect());
}
