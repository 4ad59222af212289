/** One GraphQL request to the gateway, and the failure a client would act on when it goes wrong. */

export const UA = 'soak-bench/1.0';
export const REQUEST_TIMEOUT_MS = 30_000;

/** One failed request or check, by the code a client would act on. */
export class Failure extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

// Answers are checked field by field right where they are used; typing each operation's result would double the file.
export type Data = Record<string, any>;

export async function post(url: string, query: string, variables: Record<string, unknown>, token?: string): Promise<Data> {
  const headers: Record<string, string> = { 'content-type': 'application/json', 'user-agent': UA };
  if (token) headers.authorization = `Bearer ${token}`;
  let res: Response;
  try {
    res = await fetch(`${url}/graphql`, {
      method: 'POST',
      headers,
      body: JSON.stringify({ query, variables }),
      signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
    });
  } catch (err) {
    const e = err as Error & { cause?: { code?: string } };
    throw new Failure(e.name === 'TimeoutError' ? 'TIMEOUT' : `NETWORK_${e.cause?.code ?? e.name}`, e.message);
  }
  let body: { data?: Data | null; errors?: Array<{ message: string; extensions?: { code?: string } }> };
  try {
    body = (await res.json()) as typeof body;
  } catch {
    throw new Failure(`HTTP_${res.status}`, 'the answer is not JSON');
  }
  const first = body.errors?.[0];
  if (first) throw new Failure(first.extensions?.code ?? `HTTP_${res.status}`, first.message);
  if (res.status !== 200 || !body.data) throw new Failure(`HTTP_${res.status}`, JSON.stringify(body).slice(0, 200));
  return body.data;
}

/** The client gave up or lost the connection: the gateway may still run the request later. */
export const outcomeUnknown = (err: unknown): boolean => err instanceof Failure && (err.code === 'TIMEOUT' || err.code.startsWith('NETWORK_'));

/** The gateway's own `graphql_errors_total`, by code. */
export async function metricsErrors(url: string): Promise<Record<string, number>> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const out: Record<string, number> = {};
  for (const m of text.matchAll(/^graphql_errors_total\{code="([^"]+)"\} (\d+)/gm)) out[m[1]] = Number(m[2]);
  return out;
}
