/**
 * Service registry: every gateway and worker process registers itself in Redis
 * (id, roles, version, address, host, pid, start time) and heartbeats; an entry
 * whose heartbeat lapses for one TTL drops out of {@link InstancesService.list}.
 * Liveness is judged by the Redis clock, so instances with skewed clocks agree.
 * Each change of the list is a domain event on the instances stream, appended by
 * the script that makes it: `instance.joined` when an instance registers (or
 * heartbeats again after lapsing), `instance.left` when it deregisters at shutdown
 * or another instance's heartbeat or listing finds it lapsed.
 */
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import path from 'node:path';
import type { Logger } from '../../util/logger';
import type { RedisClient } from '../../redis/connection';
import type { Keys } from '../../redis/keys';
import { runScript } from '../../redis/scripts';
import { newId } from '../../util/crypto';
import { projectRoot } from '../../util/paths';

export type InstanceRole = 'gateway' | 'worker';

/** What each process writes about itself (the JSON in the registry hash). */
export interface InstanceInfo {
  id: string;
  /** The role the process was started as. */
  role: InstanceRole;
  /** Every role it runs (a gateway with WORKER=1 also runs workers). */
  roles: InstanceRole[];
  version: string;
  /** Where it serves HTTP, e.g. `http://10.0.0.5:4000`; null for a worker. */
  address: string | null;
  hostname: string;
  pid: number;
  startedAt: number;
  ttlMs: number;
}

export interface InstanceRecord extends InstanceInfo {
  lastHeartbeatAt: number;
  expiresAt: number;
}

export interface InstancesSettings {
  /** Default 5 s (REGISTRY_HEARTBEAT). */
  heartbeatMs: number;
  /** Default 15 s (REGISTRY_TTL); must exceed the heartbeat. */
  ttlMs: number;
  /** About how many entries the instances event stream keeps (EVENT_STREAM_MAXLEN, default 100000). */
  eventMaxLen?: number;
}

let version: string | undefined;
/** The version in package.json, read once. */
export function packageVersion(): string {
  version ??= (JSON.parse(readFileSync(path.join(projectRoot(), 'package.json'), 'utf8')) as { version: string }).version;
  return version;
}

/** An instance id: host, pid and a random part (pids repeat across containers). */
export const newInstanceId = (): string => `${hostname()}-${process.pid}-${newId().slice(0, 8)}`;

export class InstancesService {
  private info: InstanceInfo | null = null;
  private timer: NodeJS.Timeout | null = null;
  private failing = false;
  private inFlight: Promise<void> | null = null;

  constructor(
    private readonly redis: RedisClient,
    private readonly keys: Keys,
    private readonly settings: InstancesSettings,
    private readonly log: Logger,
    /** This process's id in the list (default {@link newInstanceId}). */
    readonly id: string = newInstanceId(),
  ) {}

  /**
   * Registers this process and starts heartbeating. Calling it again adds a role
   * (and an address, if it had none) to the same entry. `also`: more roles it runs,
   * registered at once (so its instance.joined event lists them).
   */
  async start(role: InstanceRole, address: string | null = null, also: InstanceRole[] = []): Promise<void> {
    if (this.info) {
      for (const r of [role, ...also]) if (!this.info.roles.includes(r)) this.info.roles.push(r);
      this.info.address ??= address;
    } else {
      this.info = {
        id: this.id,
        role,
        roles: [...new Set([role, ...also])],
        version: packageVersion(),
        address,
        hostname: hostname(),
        pid: process.pid,
        startedAt: Date.now(),
        ttlMs: this.settings.ttlMs,
      };
    }
    // Redis unreachable at start: the next heartbeat registers it.
    await this.beat().catch(() => undefined);
    if (!this.timer) {
      this.timer = setInterval(() => void this.beat().catch(() => undefined), this.settings.heartbeatMs);
      this.timer.unref();
    }
  }

  /** Stops heartbeating and removes this process's entry at once. */
  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    if (!this.info) return;
    this.info = null;
    // A heartbeat still under way (e.g. retrying as EVAL after NOSCRIPT) must not re-add the entry after it is removed.
    await this.inFlight?.catch(() => undefined);
    try {
      await runScript(this.redis, 'registryLeave', this.registryKeys, [this.id, new Date().toISOString(), this.eventMaxLen]);
    } catch (err) {
      // Unreachable Redis: the entry lapses by itself within one TTL.
      this.log.debug({ err: (err as Error).message }, 'could not deregister');
    }
  }

  /** Live instances, gateways first, then by start time. */
  async list(): Promise<InstanceRecord[]> {
    const flat = await runScript<Array<string | number | null>>(this.redis, 'registryList', this.registryKeys, [
      new Date().toISOString(),
      this.eventMaxLen,
      this.id,
    ]);
    const out: InstanceRecord[] = [];
    for (let i = 1; i < flat.length; i += 3) {
      const json = flat[i + 2];
      if (typeof json !== 'string') continue;
      const info = JSON.parse(json) as InstanceInfo;
      const expiresAt = Number(flat[i + 1]);
      out.push({ ...info, expiresAt, lastHeartbeatAt: expiresAt - info.ttlMs });
    }
    return out.sort((a, b) => a.role.localeCompare(b.role) || a.startedAt - b.startedAt || a.id.localeCompare(b.id));
  }

  /** The keys every registry script names: the liveness zset, the records, the instances event stream. */
  private get registryKeys(): string[] {
    return [this.keys.registry('alive'), this.keys.registry('info'), this.keys.eventStream('instances')];
  }

  private get eventMaxLen(): number {
    return this.settings.eventMaxLen ?? 100_000;
  }

  private beat(): Promise<void> {
    if (!this.info) return Promise.resolve();
    this.inFlight = this.send(this.info);
    return this.inFlight;
  }

  private async send(info: InstanceInfo): Promise<void> {
    try {
      await runScript(this.redis, 'registryHeartbeat', this.registryKeys, [
        this.id,
        this.settings.ttlMs,
        JSON.stringify(info),
        new Date().toISOString(),
        this.eventMaxLen,
      ]);
      if (this.failing) this.log.info({ instance: this.id }, 'registry heartbeat restored');
      this.failing = false;
    } catch (err) {
      if (!this.failing) this.log.warn({ instance: this.id, err: (err as Error).message }, 'registry heartbeat failed; retrying');
      this.failing = true;
      throw err;
    }
  }
}
