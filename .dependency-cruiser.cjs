/**
 * The import rules of src/ (docs/architecture.md): no import circle, and imports point down the
 * layers only. A layer may import its own layer and any layer below it:
 *
 *   entries   src/index.ts, src/worker.ts
 *   app       src/app/, src/modules/
 *   edges     src/resolvers/, src/types/, src/plugins/, src/http/, src/ws/, src/worker/
 *   services  src/services/
 *   redis     src/redis/
 *   base      src/config/, src/util/
 */
const LAYERS = [
  ['base', '^src/(config|util)/'],
  ['redis', '^src/redis/'],
  ['services', '^src/services/'],
  ['edges', '^src/(resolvers|types|plugins|http|ws|worker)/'],
  ['app', '^src/(app|modules)/'],
  ['entries', '^src/(index|worker)\\.ts$'],
];

const upward = LAYERS.slice(0, -1).map(([name, path], i) => ({
  name: `no-upward-from-${name}`,
  comment: `${name} may import only its own layer and those below it`,
  severity: 'error',
  from: { path },
  to: {
    path: LAYERS.slice(i + 1)
      .map(([, p]) => `(${p})`)
      .join('|'),
  },
}));

module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      comment: 'no import circle in src/, type-only imports included',
      severity: 'error',
      from: { path: '^src/' },
      to: { circular: true },
    },
    {
      name: 'every-file-in-a-layer',
      comment: 'a new top-level place in src/ must be given a layer above',
      severity: 'error',
      from: { path: '^src/', pathNot: LAYERS.map(([, p]) => `(${p})`).join('|') },
      to: {},
    },
    ...upward,
  ],
  options: {
    tsConfig: { fileName: 'tsconfig.json' },
    tsPreCompilationDeps: true,
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '\\.lua$' },
  },
};
