/**
 * The service container: every service, built once per process by the capability modules
 * (src/modules/), each adding its own in the order the module list gives.
 */
import type { Config } from '../config';
import type { Keys } from '../redis/keys';
import type { GatewayPubSub } from '../redis/pubsub';
import type { AnalyticsService } from './analytics/analytics.service';
import type { AuditService } from './audit/audit.service';
import type { ResultCache } from './cache/result-cache';
import type { SharedCache } from './cache/shared-cache';
import type { ExperimentService } from './analytics/experiment.service';
import type { AnalyticsHistory } from './analytics/history.service';
import type { LiveStatsService } from './analytics/live-stats.service';
import type { VisitorBudget } from './analytics/visitor-budget';
import type { VisitorService } from './analytics/visitor.service';
import type { CartService } from './commerce/cart.service';
import type { CatalogService } from './commerce/catalog.service';
import type { OrderService } from './commerce/order.service';
import type { OrderUpdates } from './commerce/order-updates';
import type { ProductUpdates } from './commerce/product-updates';
import type { RecommendationService } from './commerce/recommendation.service';
import type { DomainEventsService } from './events/domain-events.service';
import type { FlagService } from './flags/flag.service';
import type { InstancesService } from './instances/instances.service';
import type { JobService } from './jobs/job.service';
import type { MailService } from './jobs/mail.service';
import type { RateLimitService } from './ratelimit/ratelimit.service';
import type { ApiKeyService } from './sessions/api-key.service';
import type { AuthService } from './sessions/auth.service';
import type { SessionService } from './sessions/session.service';
import type { UserService } from './sessions/user.service';

/** What every module builds on. */
export interface BaseServices {
  config: Config;
  keys: Keys;
  pubsub: GatewayPubSub;
}

export interface CacheServices {
  /** The in-process cache in front of Redis that every instance invalidates at once (docs/caching.md). */
  cache: SharedCache;
  /** `@Cached` fields' results: in that cache, then in Redis. */
  results: ResultCache;
}

export interface AuditServices {
  /** Who did what as an admin. */
  audit: AuditService;
}

export interface SessionServices {
  users: UserService;
  sessions: SessionService;
  /** Sign-up, sign-in, guests, password change and reset. */
  auth: AuthService;
  /** Credentials of other services: `Authorization: Bearer gwk_...`. */
  apiKeys: ApiKeyService;
}

export interface RateLimitServices {
  rateLimits: RateLimitService;
}

export interface EventServices {
  /** Domain events on Redis Streams for other services. */
  domainEvents: DomainEventsService;
}

export interface CommerceServices {
  catalog: CatalogService;
  carts: CartService;
  orders: OrderService;
  recommendations: RecommendationService;
  /** orderUpdated: one order's status changes, from any instance. */
  orderUpdates: OrderUpdates;
  /** productUpdated: stock and price changes fanned out to this instance's watchers. */
  productUpdates: ProductUpdates;
}

export interface AnalyticsServices {
  visitors: VisitorService;
  visitorBudget: VisitorBudget;
  experiments: ExperimentService;
  analytics: AnalyticsService;
  analyticsHistory: AnalyticsHistory;
  liveStats: LiveStatsService;
}

export interface FlagServices {
  /** Feature flags, held in memory on every gateway. */
  flags: FlagService;
}

export interface JobServices {
  jobs: JobService;
  mail: MailService;
}

export interface InstanceServices {
  /** This process in the instance list; `start(role, address)` registers it. */
  instances: InstancesService;
}

export interface Services
  extends
    BaseServices,
    CacheServices,
    AuditServices,
    SessionServices,
    RateLimitServices,
    EventServices,
    CommerceServices,
    AnalyticsServices,
    FlagServices,
    JobServices,
    InstanceServices {}
