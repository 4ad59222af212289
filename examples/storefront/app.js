// The storefront: a single page on its own origin, talking to the gateway with @urql/core over
// HTTP and graphql-ws for subscriptions (both served by this example's server from node_modules,
// named in the page's import map). Sign in or create an account, browse the products with their
// stock live (productUpdated), fill the cart, check out, and follow the order to COMPLETED live
// (orderUpdated). The session is the bearer token the gateway returns, kept in memory only.
import { Client, fetchExchange, subscriptionExchange } from '@urql/core';
import { createClient as createWsClient } from 'graphql-ws';

const config = JSON.parse(document.querySelector('meta[name="storefront-config"]').content);

const PRODUCT = 'id name priceCents currency stock';
const CART = 'items { product { id name priceCents currency } quantity lineTotalCents } itemCount subtotalCents currency';
const Q = {
  login: `mutation Login($input: LoginInput!) { login(input: $input) { token user { email name } } }`,
  register: `mutation Register($input: RegisterInput!) { register(input: $input) { token user { email name } } }`,
  products: `query Products { products(limit: 100) { ${PRODUCT} } }`,
  cart: `query Cart { cart { ${CART} } }`,
  add: `mutation Add($input: AddToCartInput!) { addToCart(input: $input) { ${CART} } }`,
  checkout: `mutation Checkout($key: String) { checkout(idempotencyKey: $key) { id status totalCents currency } }`,
  stock: `subscription Stock($ids: [ID!]!) { productUpdated(ids: $ids) { ${PRODUCT} } }`,
  order: `subscription Order($id: ID!) { orderUpdated(id: $id) { id status updatedAt } }`,
};

const state = { token: null, ws: null, products: new Map(), stops: [] };
const $ = (id) => document.getElementById(id);

/** An element with text children only (never HTML). */
function el(tag, attrs = {}, children = []) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  for (const c of children) node.append(c);
  return node;
}
const money = (cents, currency) => `${(cents / 100).toFixed(2)} ${currency ?? ''}`.trim();
const firstError = (result) => result.error?.graphQLErrors?.[0]?.message ?? result.error?.networkError?.message ?? result.error?.message;

// One client for the whole page: HTTP to the gateway, subscriptions over graphql-ws (to the
// instance config.gatewayWs names, which may be another one than HTTP goes to).
const client = new Client({
  url: `${config.gateway}/graphql`,
  // POST for queries too: the gateway refuses GET queries from other origins without a preflight header.
  preferGetMethod: false,
  requestPolicy: 'network-only',
  fetchOptions: () => (state.token ? { headers: { authorization: `Bearer ${state.token}` } } : {}),
  exchanges: [
    fetchExchange,
    subscriptionExchange({
      forwardSubscription: (request) => ({
        subscribe: (sink) => ({ unsubscribe: socket().subscribe({ ...request, query: request.query ?? '' }, sink) }),
      }),
    }),
  ],
});

function socket() {
  state.ws ??= createWsClient({
    url: `${config.gatewayWs}/graphql`,
    connectionParams: () => (state.token ? { authorization: `Bearer ${state.token}` } : {}),
    retryAttempts: 5,
    on: {
      connected: () => live(true),
      closed: () => live(false),
    },
  });
  return state.ws;
}

function live(on) {
  $('live').className = `pill ${on ? 'on' : 'off'}`;
  $('live').textContent = on ? 'live' : 'offline';
}

// ---- Sign-in
async function signIn(kind) {
  $('signin-error').textContent = '';
  const email = $('email').value.trim();
  const password = $('password').value;
  const input = kind === 'register' ? { email, password, name: $('name').value.trim() || email.split('@')[0] } : { email, password };
  const result = await client.mutation(Q[kind], { input }).toPromise();
  const payload = result.data?.[kind];
  if (!payload) {
    $('signin-error').textContent = firstError(result) ?? 'Sign-in failed';
    return;
  }
  state.token = payload.token;
  $('password').value = '';
  $('who').textContent = payload.user.email;
  $('signin').hidden = true;
  $('shop').hidden = false;
  await Promise.all([loadProducts(), loadCart()]);
}

// ---- Products, with live stock
async function loadProducts() {
  const result = await client.query(Q.products, {}).toPromise();
  const list = result.data?.products ?? [];
  for (const p of list) state.products.set(p.id, p);
  renderProducts();
  if (!list.length) return;
  const sub = client.subscription(Q.stock, { ids: list.map((p) => p.id).slice(0, 100) }).subscribe((r) => {
    const p = r.data?.productUpdated;
    if (!p) return;
    state.products.set(p.id, p);
    renderProduct(p);
  });
  state.stops.push(() => sub.unsubscribe());
  // What changed between the first read and the subscription: read once more.
  const again = await client.query(Q.products, {}).toPromise();
  for (const p of again.data?.products ?? []) {
    state.products.set(p.id, p);
    renderProduct(p);
  }
}

function renderProducts() {
  $('products').replaceChildren(
    ...[...state.products.values()].map((p) => {
      const add = el('button', { type: 'button', class: 'add' }, ['Add to cart']);
      add.addEventListener('click', () => addToCart(p.id));
      return el('li', { 'data-product': p.id }, [
        el('div', {}, [el('b', {}, [p.name])]),
        el('div', { class: 'price' }, [money(p.priceCents, p.currency)]),
        el('div', {}, [el('span', { class: 'stock' }, []), ' in stock']),
        add,
      ]);
    }),
  );
  for (const p of state.products.values()) renderProduct(p);
}

function renderProduct(p) {
  const li = $('products').querySelector(`li[data-product="${CSS.escape(p.id)}"]`);
  if (!li) return;
  const stock = li.querySelector('.stock');
  stock.textContent = String(p.stock);
  stock.className = `stock${p.stock === 0 ? ' out' : p.stock < 5 ? ' low' : ''}`;
  li.querySelector('.price').textContent = money(p.priceCents, p.currency);
  li.querySelector('.add').disabled = p.stock === 0;
}

// ---- Cart and checkout
async function loadCart() {
  const result = await client.query(Q.cart, {}).toPromise();
  if (result.data) renderCart(result.data.cart);
}

async function addToCart(productId) {
  $('shop-error').textContent = '';
  const result = await client.mutation(Q.add, { input: { productId, quantity: 1 } }).toPromise();
  if (result.data) renderCart(result.data.addToCart);
  else $('shop-error').textContent = firstError(result) ?? 'Could not add it';
}

function renderCart(cart) {
  $('cart-lines').replaceChildren(
    ...cart.items.map((i) =>
      el('li', { 'data-product': i.product.id }, [`${i.quantity} × ${i.product.name} — ${money(i.lineTotalCents, i.product.currency)}`]),
    ),
  );
  $('subtotal').textContent = money(cart.subtotalCents, cart.currency);
  $('checkout').disabled = cart.itemCount === 0;
}

async function checkout() {
  $('shop-error').textContent = '';
  $('checkout').disabled = true;
  // One key per attempt: a retry of this very request never buys twice.
  const result = await client.mutation(Q.checkout, { key: crypto.randomUUID() }).toPromise();
  const order = result.data?.checkout;
  if (!order) {
    $('shop-error').textContent = firstError(result) ?? 'Checkout failed';
    $('checkout').disabled = false;
    return;
  }
  await loadCart();
  followOrder(order);
}

// ---- The order, live
function followOrder(order) {
  $('order').hidden = false;
  $('order-id').textContent = order.id;
  $('order-steps').replaceChildren();
  showStatus(order.status);
  const sub = client.subscription(Q.order, { id: order.id }).subscribe((r) => {
    const o = r.data?.orderUpdated;
    if (o) showStatus(o.status);
  });
  state.stops.push(() => sub.unsubscribe());
}

function showStatus(status) {
  $('order-status').textContent = status;
  const steps = $('order-steps');
  if (steps.lastElementChild?.textContent !== status) steps.append(el('li', { class: status === 'COMPLETED' ? 'done' : '' }, [status]));
}

// ---- Boot
$('signin-form').addEventListener('submit', (ev) => {
  ev.preventDefault();
  void signIn('login');
});
$('register').addEventListener('click', () => {
  if ($('signin-form').reportValidity()) void signIn('register');
});
$('checkout').addEventListener('click', () => void checkout());
