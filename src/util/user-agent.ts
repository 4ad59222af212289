/**
 * A coarse user-agent family (browser or client name), stable across version
 * upgrades, used to notice a session token replayed from another kind of client.
 */
const FAMILIES: Array<[RegExp, string]> = [
  [/\bEdg(e|A|iOS)?\//, 'edge'],
  [/\bOPR\/|\bOpera\b/, 'opera'],
  [/\bFirefox\/|\bFxiOS\//, 'firefox'],
  [/\bChrom(e|ium)\/|\bCriOS\/|HeadlessChrome\//, 'chrome'],
  [/\bSafari\//, 'safari'],
  [/^curl\//, 'curl'],
  [/^node|undici|node-fetch/i, 'node'],
  [/^python-requests|^python/i, 'python'],
  [/^Go-http-client/, 'go'],
];

export function userAgentFamily(ua: string | undefined): string {
  if (!ua) return 'none';
  for (const [re, family] of FAMILIES) if (re.test(ua)) return family;
  return 'other';
}
