// Lets a child `node` process run the TypeScript sources directly, for tests
// that spawn real worker processes: `node -r ./test/helpers/ts-register.js src/worker.ts`.
// Transpile-only (like the tests' ts-jest setup); type checking is `npm run typecheck`.
// Output is cached in the OS temp dir by file content, so later spawns start fast.
const crypto = require('node:crypto');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

// Loaded only on a cache miss: requiring the compiler alone takes a few hundred ms.
let ts;
const transpile = (source, fileName) => {
  ts ??= require('typescript');
  const compilerOptions = {
    module: ts.ModuleKind.CommonJS,
    target: ts.ScriptTarget.ES2022,
    esModuleInterop: true,
    experimentalDecorators: true,
    emitDecoratorMetadata: true,
    useDefineForClassFields: false,
    inlineSourceMap: true,
  };
  return ts.transpileModule(source, { compilerOptions, fileName }).outputText;
};
const tsVersion = require('typescript/package.json').version;
const cacheDir = path.join(os.tmpdir(), `gw-ts-register-${tsVersion}`);
fs.mkdirSync(cacheDir, { recursive: true });

require.extensions['.ts'] = (module, filename) => {
  const source = fs.readFileSync(filename, 'utf8');
  const cached = path.join(cacheDir, crypto.createHash('sha256').update(filename).update('\0').update(source).digest('hex') + '.js');
  let output;
  try {
    output = fs.readFileSync(cached, 'utf8');
  } catch {
    output = transpile(source, filename);
    // Written under a unique name and renamed, so concurrent processes never read half a file.
    const tmp = `${cached}.${process.pid}.tmp`;
    fs.writeFileSync(tmp, output);
    fs.renameSync(tmp, cached);
  }
  module._compile(output, filename);
};
