/** The service container: every service built once per app from its Redis client and key builder. */
import type { Config } from '../config';
import type { Logger } from '../util/logger';
import type { RedisClient } from '../redis/connection';
import type { Keys } from '../redis/keys';
import type { GatewayPubSub } from '../redis/pubsub';
import { AnalyticsService } from './analytics/analytics.service';
import { AuthService } from './sessions/auth.service';
import { CartService } from './commerce/cart.service';
import { CatalogService } from './commerce/catalog.service';
import { OrderService } from './commerce/order.service';
import { RecommendationService } from './commerce/recommendation.service';
import { ExperimentService } from './analytics/experiment.service';
import { JobService } from './jobs/job.service';
import { MailService } from './jobs/mail.service';
import { LiveStatsService } from './analytics/live-stats.service';
import { EventsService } from './events/domain-events.service';
import { RegistryService } from './instances/instances.service';
import { RateLimitService } from './ratelimit/ratelimit.service';
import { SessionService } from './sessions/session.service';
import { UserService } from './sessions/user.service';
import { VisitorService } from './analytics/visitor.service';
import { VisitorBudget } from './analytics/visitor-budget';

export interface Services {
  config: Config;
  keys: Keys;
  pubsub: GatewayPubSub;
  users: UserService;
  sessions: SessionService;
  auth: AuthService;
  /** This process in the service registry; `start(role, address)` registers it. */
  registry: RegistryService;
  /** Domain events on Redis Streams for other services. */
  events: EventsService;
  visitors: VisitorService;
  experiments: ExperimentService;
  analytics: AnalyticsService;
  liveStats: LiveStatsService;
  catalog: CatalogService;
  carts: CartService;
  orders: OrderService;
  recommendations: RecommendationService;
  jobs: JobService;
  mail: MailService;
  rateLimits: RateLimitService;
}

export function createServices(config: Config, redis: RedisClient, keys: Keys, pubsub: GatewayPubSub, log: Logger): Services {
  const users = new UserService(redis, keys, config.sessions.scryptN);
  const sessions = new SessionService(redis, keys, pubsub, config, log);
  const auth = new AuthService(users, sessions);
  const registry = new RegistryService(redis, keys, config.instances, log);
  const events = new EventsService(redis, keys, config.events.streamMaxLen, registry.id);
  const catalog = new CatalogService(redis, keys, pubsub);
  const carts = new CartService(redis, keys, config);
  const orders = new OrderService(redis, keys, log, events);
  const recommendations = new RecommendationService(redis, keys);
  const visitors = new VisitorService(redis, keys);
  const budget = new VisitorBudget(keys, visitors, config);
  const experiments = new ExperimentService(redis, keys, visitors, budget, config);
  const analytics = new AnalyticsService(redis, keys, visitors, experiments, budget, config);
  // Revenue comes from orders, server-side: wired here because the worker process runs orders without the app's modules.
  orders.onCompleted((order) => analytics.recordOrder(order));
  const liveStats = new LiveStatsService(redis, keys, pubsub, analytics, log);
  const mail = new MailService(redis, keys, config.jobs);
  const rateLimits = new RateLimitService(redis, keys, pubsub, config, log);
  // Job handlers validate and run with the whole container, the job service included.
  let container: Services | undefined;
  const jobs = new JobService(redis, keys, config, () => container!, log);
  container = { config, keys, pubsub, users, sessions, auth, registry, events, catalog, carts, orders, recommendations, visitors, experiments, analytics, liveStats, jobs, mail, rateLimits };
  return container;
}
