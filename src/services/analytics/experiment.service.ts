/**
 * A/B experiments. Assignment is deterministic: a keyed hash (HMAC with the deployment's
 * salt) of (experiment, viewer) picks a point in the weights, so a viewer gets the same
 * variant on every instance and after any restart without anything stored for it. What is
 * stored is the exposure, once per viewer: one hash per viewer (experiment -> variant),
 * living `EXPERIMENT_VISITOR_TTL` (default 30d) after its last use, and created only within
 * the caller's daily budget of new visitor keys (see {@link VisitorBudget}). Reports carry
 * significance against the control (first variant) and a sample-ratio check. A stopped
 * experiment serves its winner to everyone and records nothing more.
 */
import type { Config } from '../../config';
import type { RequestContext } from '../context';
import { badInput, notFound } from '../../util/errors';
import type { RedisClient } from '../../redis/connection';
import type { Keys } from '../../redis/keys';
import { runScript } from '../../redis/scripts';
import { buildReport, type ExperimentReport, type RawExperiment } from './experiment.report';
import type { VisitorBudget } from './visitor-budget';
import type { VisitorService } from './visitor.service';

/** At most this many experiments exist at once. */
export const MAX_EXPERIMENTS = 1000;

export interface ExperimentSpec {
  key: string;
  variants: string[];
  weights?: number[] | null;
}

type Reply = [number, string | number];

export class ExperimentService {
  constructor(
    private readonly redis: RedisClient,
    private readonly keys: Keys,
    private readonly visitors: VisitorService,
    private readonly budget: VisitorBudget,
    private readonly config: Pick<Config, 'analytics'>,
  ) {}

  /** Creates an experiment (weights default to an even split); the same definition again is a no-op. */
  async create(spec: ExperimentSpec): Promise<ExperimentReport> {
    const weights = spec.weights ?? spec.variants.map(() => 1);
    if (weights.length !== spec.variants.length) throw badInput('Give one weight per variant', { weights: ['must have one entry per variant'] });
    const k = this.keys;
    const [code] = await runScript<Reply>(
      this.redis,
      'createExperiment',
      [k.experiment(spec.key, 'def'), k.experiments(), k.anDirty()],
      [spec.key, JSON.stringify(spec.variants), JSON.stringify(weights), Date.now(), MAX_EXPERIMENTS],
    );
    if (code === -1) throw badInput(`Experiment ${spec.key} already exists with other variants or weights`, { key: ['already exists'] });
    if (code === -2) throw badInput(`At most ${MAX_EXPERIMENTS} experiments can exist`);
    return (await this.get(spec.key))!;
  }

  /**
   * Stops an experiment: every viewer then gets `winner` (the control when null) and nothing more is
   * recorded for it, so its results stay as they were. Stopping again with the same winner returns it
   * unchanged; NOT_FOUND for an unknown experiment, BAD_USER_INPUT for a winner that is not a variant
   * or a second stop with another winner.
   */
  async stop(key: string, winner: string | null): Promise<ExperimentReport> {
    const k = this.keys;
    const [code] = await runScript<[number]>(this.redis, 'stopExperiment', [k.experiment(key, 'def'), k.anDirty()], [winner ?? '', Date.now()]);
    if (code === -1) throw notFound(`Experiment ${key}`);
    if (code === -2) throw badInput(`${winner} is not a variant of experiment ${key}`, { winner: ['is not a variant'] });
    const report = (await this.get(key))!;
    if (code === -3)
      throw badInput(`Experiment ${key} was already stopped with winner ${report.winner ?? report.control}`, {
        winner: ['differs from the winner it was stopped with'],
      });
    return report;
  }

  /**
   * The viewer's variant, recording their exposure the first time (within the caller's budget;
   * past it the variant is answered and nothing recorded). NOT_FOUND for an unknown experiment.
   */
  async assign(ctx: RequestContext, key: string, visitorId?: string | null): Promise<string> {
    const visitor = await this.visitors.viewerFor(ctx, visitorId);
    const [visitorKey, point] = await Promise.all([this.visitors.visitorKey(visitor), this.visitors.variantPoint(key, visitor)]);
    const k = this.keys;
    const [code, variant] = await this.budget.run(
      ctx,
      (budget) =>
        runScript<Reply>(
          this.redis,
          'assignVariant',
          [
            k.experiment(key, 'def'),
            k.experiment(key, 'stats'),
            k.anDirty(),
            k.anVisitorExps(visitorKey),
            k.experiment(key, 'assign'),
            k.experiment(key, 'converted'),
            budget.key,
          ],
          [key, point, visitor, this.config.analytics.experimentVisitorTtlMs, ...budget.args],
        ),
      ([c]) => c === 3,
    );
    if (code === -1) throw notFound(`Experiment ${key}`);
    return String(variant);
  }

  /** The report of one experiment, or null. */
  async get(key: string): Promise<ExperimentReport | null> {
    const [raw] = await this.read([key]);
    return raw ? buildReport(raw) : null;
  }

  /** Reports of the `limit` most recent experiments, newest first (two round trips). */
  async recent(limit: number): Promise<ExperimentReport[]> {
    const keys = await this.redis.zrevrange(this.keys.experiments(), 0, limit - 1);
    const raws = await this.read(keys);
    return raws.filter((r): r is RawExperiment => r !== null).map(buildReport);
  }

  /** Definitions and counters of several experiments in one pipelined round trip. */
  async read(keys: string[]): Promise<Array<RawExperiment | null>> {
    if (!keys.length) return [];
    const pipe = this.redis.pipeline();
    for (const key of keys) {
      pipe.hmget(this.keys.experiment(key, 'def'), 'variants', 'weights', 'created', 'stopped', 'winner', 'spread');
      pipe.hgetall(this.keys.experiment(key, 'stats'));
    }
    const res = await pipe.exec();
    return keys.map((key, i) => {
      const [errDef, def] = res![2 * i] as [Error | null, Array<string | null>];
      const [errStats, stats] = res![2 * i + 1] as [Error | null, Record<string, string>];
      if (errDef) throw errDef;
      if (errStats) throw errStats;
      if (!def[0] || !def[1]) return null;
      return {
        key,
        variants: JSON.parse(def[0]) as string[],
        weights: JSON.parse(def[1]) as number[],
        createdAt: Number(def[2]),
        stoppedAt: def[3] ? Number(def[3]) : null,
        winner: def[4] || null,
        revenueSpread: def[5] === '1',
        counters: stats,
      };
    });
  }
}
