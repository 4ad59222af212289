/**
 * Token counts of the documents real clients send, to size QUERY_MAX_TOKENS: GraphiQL's
 * introspection query (every option on), the dashboard's operations (read from
 * public/dashboard/dashboard.js), and every string literal in the tests, scripts,
 * benchmarks and the code blocks of README.md and docs/*.md that parses as a GraphQL document
 * (documents built with `${...}` are left out: those are the limit tests' own oversized ones).
 *
 * Run: `npm run bench -- tokens [--top n]`.
 */
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { Lexer, Source, TokenKind, getIntrospectionQuery, parse } from 'graphql';
import { parseOptions, type Bench } from './cli';
import { sourceRoot } from './lua';

/** Tokens as `parse(…, { maxTokens })` counts them: every lexical token but <EOF>; comments are not tokens. */
export function countTokens(document: string): number {
  const lexer = new Lexer(new Source(document));
  let n = 0;
  for (let t = lexer.advance(); t.kind !== TokenKind.EOF; t = lexer.advance()) n++;
  return n;
}

interface Found {
  tokens: number;
  bytes: number;
  where: string;
  start: string;
}

const parses = (s: string): boolean => {
  try {
    parse(s);
    return true;
  } catch {
    return false;
  }
};

const found = (where: string, doc: string): Found => ({
  tokens: countTokens(doc),
  bytes: Buffer.byteLength(doc),
  where,
  start: doc.replace(/\s+/g, ' ').slice(0, 70),
});

/** The dashboard builds its documents from string pieces; they are put together here the way it does. */
function dashboardDocuments(root: string): Found[] {
  const js = readFileSync(path.join(root, 'public/dashboard/dashboard.js'), 'utf8');
  const literals = (code: string): string => [...code.matchAll(/'([^']*)'/g)].map((m) => m[1]).join('');
  const stats = literals(/var STATS =\s*([\s\S]*?);\n/.exec(js)![1]);
  const block = /var QUERIES = \{([\s\S]*?)\};/.exec(js)![1];
  return [...block.matchAll(/(\w+): ((?:'[^']*'(?: \+ STATS \+ )?)+),/g)].map((m) =>
    found(`dashboard ${m[1]}`, m[2].split(' + STATS + ').map(literals).join(stats)),
  );
}

function literalDocuments(root: string): Found[] {
  const out: Found[] = [];
  const scan = (file: string): void => {
    const text = readFileSync(file, 'utf8');
    const rel = path.relative(root, file);
    for (const m of text.matchAll(/`(?:[^`\\]|\\.)*`|'(?:[^'\\\n]|\\.)*'|"(?:[^"\\\n]|\\.)*"/g)) {
      const s = m[0].slice(1, -1);
      if (/^\s*(query|mutation|subscription|fragment|\{)/.test(s) && !s.includes('${') && parses(s)) out.push(found(rel, s));
    }
    if (file.endsWith('.md')) for (const b of text.matchAll(/```graphql\n([\s\S]*?)```/g)) if (parses(b[1])) out.push(found(`${rel} (code block)`, b[1]));
  };
  const walk = (dir: string): void => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (/\.(ts|js|md)$/.test(e.name)) scan(p);
    }
  };
  for (const d of ['test', 'scripts', 'bench', 'public']) walk(path.join(root, d));
  scan(path.join(root, 'README.md'));
  const docs = path.join(root, 'docs');
  for (const f of readdirSync(docs).sort()) if (f.endsWith('.md')) scan(path.join(docs, f));
  return out;
}

function tokens(top: number): void {
  // The sources, not the build folder: the documents are read from the project's files.
  const root = sourceRoot(__dirname);
  const introspection = getIntrospectionQuery({
    descriptions: true,
    inputValueDeprecation: true,
    specifiedByUrl: true,
    directiveIsRepeatable: true,
    schemaDescription: true,
  });
  const rows = [found('GraphiQL introspection (every option)', introspection), ...dashboardDocuments(root)];
  for (const r of rows) console.log(`${String(r.tokens).padStart(5)} tokens ${String(r.bytes).padStart(6)} B  ${r.where}`);
  const docs = literalDocuments(root).sort((a, b) => b.tokens - a.tokens);
  console.log(`largest of ${docs.length} literal documents:`);
  for (const r of docs.slice(0, top)) console.log(`${String(r.tokens).padStart(5)} tokens ${String(r.bytes).padStart(6)} B  ${r.where}: ${r.start}`);
}

const OPTIONS = [{ flag: '--top', value: '<n>', help: 'how many of the largest literal documents to list', default: 10 }] as const;

export const bench: Bench = {
  options: OPTIONS,
  async run(argv) {
    tokens(parseOptions(argv, OPTIONS).number('--top'));
  },
};
