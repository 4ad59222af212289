/**
 * Demo traffic for a running gateway, so the dashboard comes alive:
 * sample products, an A/B experiment, anonymous visitors browsing, signed-in
 * shoppers who add to cart and check out, and conversions attributed to the
 * experiment. Bounded in time and rate; talks only to GATEWAY_URL.
 *
 *   GATEWAY_URL   default http://127.0.0.1:4000
 *   ADMIN_EMAIL / ADMIN_PASSWORD   the gateway's admin (products and experiment need it)
 *   DEMO_SECONDS  how long to run, default 120 (at most 3600)
 *   DEMO_RATE     requests per second, default 8. All visitors share this machine's IP: with the
 *                 gateway's rate limits on, many page views are refused (and show on the dashboard);
 *                 start the gateway with RATE_LIMIT_DEFAULT=off to let them all through.
 */

// A script, not the service: it reads its own few settings here.
const env = process.env;
const BASE = (env.GATEWAY_URL ?? 'http://127.0.0.1:4000').replace(/\/$/, '');
const SECONDS = Math.min(3600, Math.max(5, Number(env.DEMO_SECONDS ?? 120) || 120));
const RATE = Math.min(500, Math.max(1, Number(env.DEMO_RATE ?? 8) || 8));
const UA = 'gateway-demo/1.0';
/** Visitors' browsers: page views from anything else (this script's own User-Agent) count as bots. */
const BROWSERS = [
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36',
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36',
  'Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1',
  'Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Mobile Safari/537.36',
  'Mozilla/5.0 (Macintosh; Intel Mac OS X 14_4_1) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4.1 Safari/605.1.15',
  'Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0',
  'Mozilla/5.0 (iPad; CPU OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1',
  'Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)',
];

const PRODUCTS = [
  { id: 'espresso-beans', name: 'Espresso beans 1 kg', priceCents: 2490 },
  { id: 'grinder', name: 'Burr grinder', priceCents: 12900 },
  { id: 'kettle', name: 'Gooseneck kettle', priceCents: 5900 },
  { id: 'dripper', name: 'Ceramic dripper', priceCents: 2900 },
  { id: 'filters', name: 'Paper filters (100)', priceCents: 690 },
  { id: 'scale', name: 'Brew scale', priceCents: 3900 },
];
const EXPERIMENT = 'checkout-button';
/** The green button really is better here, so the experiment report has something to find. */
const BUY_RATE: Record<string, number> = { blue: 0.06, green: 0.09 };

const stats = { requests: 0, views: 0, conversions: 0, orders: 0, rejected: 0, failed: 0 };

class RateLimited extends Error {
  constructor(readonly retryAfter: number) {
    super('rate limited');
  }
}

async function gql<T = Record<string, unknown>>(query: string, variables: Record<string, unknown> = {}, token?: string, userAgent = UA): Promise<T> {
  await tokens.take();
  stats.requests++;
  const headers: Record<string, string> = { 'content-type': 'application/json', 'user-agent': userAgent };
  if (token) headers.authorization = `Bearer ${token}`;
  const res = await fetch(`${BASE}/graphql`, { method: 'POST', headers, body: JSON.stringify({ query, variables }) });
  if (res.status === 429) {
    stats.rejected++;
    throw new RateLimited(Number(res.headers.get('retry-after') ?? 1));
  }
  const body = (await res.json()) as { data?: T; errors?: Array<{ message: string }> };
  if (body.errors?.length || !body.data) throw new Error(body.errors?.[0]?.message ?? `HTTP ${res.status}`);
  return body.data;
}

/** Spaces requests evenly at RATE per second across all simulated users. */
const tokens = {
  next: Date.now(),
  async take(): Promise<void> {
    const now = Date.now();
    const at = Math.max(now, this.next);
    this.next = at + 1000 / RATE;
    if (at > now) await sleep(at - now);
  },
};

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const pick = <T>(xs: T[]): T => xs[Math.floor(Math.random() * xs.length)];
const chance = (p: number): boolean => Math.random() < p;
const id = (): string => Math.random().toString(36).slice(2, 10);

async function setUp(): Promise<{ admin?: string; shoppers: string[] }> {
  const health = await fetch(`${BASE}/healthz`).catch(() => null);
  if (!health?.ok) throw new Error(`No gateway answers at ${BASE}: start one with \`npm start\` (or set GATEWAY_URL).`);
  let admin: string | undefined;
  if (env.ADMIN_EMAIL && env.ADMIN_PASSWORD) {
    admin = (
      await gql<{ login: { token: string } }>('mutation L($i: LoginInput!) { login(input: $i) { token } }', {
        i: { email: env.ADMIN_EMAIL, password: env.ADMIN_PASSWORD },
      })
    ).login.token;
    for (const p of PRODUCTS) {
      await gql('mutation P($i: ProductInput!) { upsertProduct(input: $i) { id } }', { i: { ...p, stock: 100_000, currency: 'EUR' } }, admin);
    }
    await gql('mutation X($i: ExperimentInput!) { createExperiment(input: $i) { key } }', { i: { key: EXPERIMENT, variants: ['blue', 'green'] } }, admin).catch(
      (err: Error) => console.log(`experiment ${EXPERIMENT}: ${err.message}`),
    );
    console.log(`products and experiment "${EXPERIMENT}" ready`);
  } else {
    console.log('ADMIN_EMAIL/ADMIN_PASSWORD not set: no products or experiment are created; shoppers may find nothing to buy.');
  }
  const shoppers: string[] = [];
  for (let i = 0; i < 4; i++) {
    const input = { email: `demo-shopper-${i}@example.com`, password: 'demo-shopper-password-1' };
    const token = await gql<{ login: { token: string } }>('mutation L($i: LoginInput!) { login(input: $i) { token } }', { i: input })
      .then((d) => d.login.token)
      .catch(() =>
        gql<{ register: { token: string } }>('mutation R($i: RegisterInput!) { register(input: $i) { token } }', {
          i: { ...input, name: `Demo shopper ${i}` },
        }).then((d) => d.register.token),
      )
      .catch(() => null);
    if (token) shoppers.push(token);
  }
  console.log(`${shoppers.length} demo shoppers signed in`);
  return { admin, shoppers };
}

/** One visit: a few pages, maybe the experiment, maybe a purchase or a sign-up. */
async function visit(shoppers: string[], admin?: string): Promise<void> {
  const visitorId = `demo-${id()}`;
  const product = pick(PRODUCTS);
  const browser = pick(BROWSERS);
  let referrer: string | undefined = pick(['https://www.example.com/search?q=coffee', 'https://news.example.org/', undefined, undefined]);
  const campaign = pick(['?utm_source=newsletter&utm_campaign=spring-beans', '?utm_source=social&utm_campaign=grinder-launch', '', '', '']);
  const view = async (page: string) => {
    // Like a web app's analytics call from the visitor's browser: fire and forget; a refused one does not end the visit.
    const i = { page, visitorId, ...(referrer ? { referrer } : {}) };
    const ok = await gql('mutation V($i: PageViewInput!) { trackPageView(input: $i) }', { i }, undefined, browser).then(
      () => true,
      (err: Error) => {
        if (err instanceof RateLimited) return false;
        throw err;
      },
    );
    if (ok) stats.views++;
    referrer = `${BASE}${page}`;
    await sleep(200 + Math.random() * 800);
  };
  await view(pick(['/', '/', '/products', '/blog/brewing-guide']) + campaign);
  if (!chance(0.7)) return;
  await view('/products');
  await view(`/products/${product.id}`);
  const variant = (
    await gql<{ assignVariant: string }>('mutation A($e: String!, $v: String) { assignVariant(experiment: $e, visitorId: $v) }', {
      e: EXPERIMENT,
      v: visitorId,
    }).catch(() => null)
  )?.assignVariant;
  if (chance(0.05)) {
    await gql('mutation C($i: ConversionInput!) { trackConversion(input: $i) }', { i: { type: 'newsletter-signup', visitorId } });
    stats.conversions++;
  }
  // Exposed visitors buy at their variant's rate; some others look at the cart and leave.
  const buys = chance(BUY_RATE[variant ?? 'blue'] ?? BUY_RATE.blue);
  if (!buys && !chance(0.2)) return;
  await view('/cart');
  if (!buys) return;
  await view('/checkout');
  let ordered = false;
  const shopper = shoppers.length ? pick(shoppers) : undefined;
  if (shopper) {
    const order = await gql<{ checkout: { totalCents: number } }>(
      'mutation B($p: ID!, $k: String) { addToCart(input: { productId: $p, quantity: 1 }) { subtotalCents } checkout(idempotencyKey: $k) { id totalCents } }',
      { p: product.id, k: visitorId },
      shopper,
    ).catch(() => null);
    if (order) {
      stats.orders++;
      ordered = true;
    }
  }
  // An order's revenue is counted by the gateway when the order completes. A sale without one is
  // reported as a shop's backend would: as an admin, the only caller whose valueCents is revenue.
  const sale = ordered ? {} : { valueCents: product.priceCents };
  await gql(
    'mutation C($i: ConversionInput!) { trackConversion(input: $i) }',
    { i: { type: 'purchase', ...sale, visitorId, ...(variant ? { experiment: EXPERIMENT } : {}) } },
    ordered ? undefined : admin,
  );
  stats.conversions++;
}

async function main(): Promise<void> {
  console.log(`demo traffic to ${BASE} for ${SECONDS} s at ${RATE} requests/s; open ${BASE}/dashboard`);
  const { admin, shoppers } = await setUp();
  const end = Date.now() + SECONDS * 1000;
  const report = setInterval(
    () =>
      console.log(
        `${new Date().toISOString().slice(11, 19)}  requests ${stats.requests}  views ${stats.views}  conversions ${stats.conversions}  orders ${stats.orders}  rate-limited ${stats.rejected}  failed ${stats.failed}`,
      ),
    5000,
  );
  // Enough concurrent visitors to use the request budget while each one pauses between pages.
  const visitors = Math.max(4, Math.ceil(RATE * 1.5));
  await Promise.all(
    Array.from({ length: visitors }, async () => {
      while (Date.now() < end) {
        try {
          await visit(shoppers, admin);
        } catch (err) {
          if (err instanceof RateLimited) await sleep(Math.min(10, err.retryAfter) * 1000);
          else stats.failed++;
        }
      }
    }),
  );
  clearInterval(report);
  console.log(`done: ${JSON.stringify(stats)}`);
}

main().catch((err: Error) => {
  console.error(err.message);
  process.exit(1);
});
