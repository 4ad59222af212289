/** What a page view is counted under besides its page: referrer host, UTM values, browser, device, bot; each bounded. */
import { clientFacts, referrerHost, utmValue, valueDigest } from '../../src/services/analytics/page-view-facts';

const UA = {
  chromeDesktop: 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36',
  firefoxDesktop: 'Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:125.0) Gecko/20100101 Firefox/125.0',
  chromeAndroid: 'Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Mobile Safari/537.36',
  safariIphone: 'Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1',
  safariIpad: 'Mozilla/5.0 (iPad; CPU OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1',
  googlebot: 'Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)',
};

test.each([
  [UA.chromeDesktop, { bot: false, browser: 'Chrome', device: 'desktop' }],
  [UA.firefoxDesktop, { bot: false, browser: 'Firefox', device: 'desktop' }],
  [UA.chromeAndroid, { bot: false, browser: 'Chrome', device: 'mobile' }],
  [UA.safariIphone, { bot: false, browser: 'Mobile Safari', device: 'mobile' }],
  [UA.safariIpad, { bot: false, browser: 'Mobile Safari', device: 'tablet' }],
  [UA.googlebot, { bot: true, browser: '(unknown)', device: 'bot' }],
  [
    'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/124.0.6367.29 Safari/537.36',
    { bot: true, browser: '(unknown)', device: 'bot' },
  ],
  ['curl/8.5.0', { bot: true, browser: '(unknown)', device: 'bot' }],
  ['node', { bot: true, browser: '(unknown)', device: 'bot' }],
  ['python-requests/2.31.0', { bot: true, browser: '(unknown)', device: 'bot' }],
  ['SomethingElse/1.0', { bot: true, browser: '(unknown)', device: 'bot' }],
  // No User-Agent at all: a call from inside the gateway, counted as a person.
  ['', { bot: false, browser: '(unknown)', device: 'desktop' }],
])('%s', (ua, facts) => {
  expect(clientFacts(ua)).toEqual(facts);
});

test('hostile User-Agents give a bounded browser name from a small alphabet', () => {
  for (const ua of [
    `Mozilla/5.0 (Windows NT 10.0) Chrome/1.0 ${'x'.repeat(100_000)}`,
    'Mozilla/5.0 (X11) AppleWebKit/537.36 (KHTML, like Gecko) {an}:evil/1.0 Safari/537.36',
    'Mozilla/5.0 \u0000\u202e😀 Firefox/1.0',
  ]) {
    const { browser } = clientFacts(ua);
    expect(browser.length).toBeLessThanOrEqual(32);
    expect(browser).toMatch(/^(\(unknown\)|[A-Za-z0-9 ._-]+)$/);
  }
});

test.each([
  [undefined, '(direct)'],
  ['', '(direct)'],
  ['https://www.Example.COM/path?q=1', 'www.example.com'],
  ['http://news.ycombinator.com:8080/item', 'news.ycombinator.com'],
  ['https://example.com./', 'example.com'],
  ['https://bücher.example/', 'xn--bcher-kva.example'],
  ['http://[2001:db8::1]/', '[2001:db8::1]'],
  ['https://user:pass@evil.example/', 'evil.example'],
  ['not a url', '(invalid)'],
  [`https://${'a'.repeat(60)}.${'b'.repeat(60)}.${'c'.repeat(60)}.${'d'.repeat(60)}.${'e'.repeat(60)}.example/`, '(invalid)'],
])('referrer %s -> %s', (referrer, host) => {
  expect(referrerHost(referrer)).toBe(host);
});

test.each([
  ['/p', 'utm_source', '(none)'],
  ['/p?utm_source=Newsletter', 'utm_source', 'newsletter'],
  ['/p?utm_source=news&utm_source=other', 'utm_source', 'news'],
  ['/p?utm_source=', 'utm_source', '(none)'],
  ['/p?x=1&utm_campaign=Spring%20Sale%202025#top', 'utm_campaign', 'spring_sale_2025'],
  ['/p?utm_campaign=a:b{c}d*e', 'utm_campaign', 'a_b_c_d_e'],
  ['/p?utm_campaign=%E2%80%AE%00%ZZ', 'utm_campaign', 'zz'],
  ['/p#utm_source=frag', 'utm_source', '(none)'],
  [`/p?utm_source=${'x'.repeat(500)}`, 'utm_source', 'x'.repeat(64)],
  ['/p?utm_source=(other)', 'utm_source', 'other'],
] as const)('%s: %s = %s', (page, name, value) => {
  expect(utmValue(page, name)).toBe(value);
});

test('a value reaches key names only as a digest from the base64url alphabet', () => {
  expect(valueDigest('a:{b}')).toMatch(/^[A-Za-z0-9_-]{16}$/);
  expect(valueDigest('a')).not.toBe(valueDigest('b'));
});
