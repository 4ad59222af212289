// Empties dist/ before a build: a file that moved or was deleted in src/ must not live on as a
// stale .js that Node would still find (dist/src/modules.js shadowed dist/src/modules/index.js).
import { rmSync } from 'node:fs';
rmSync('dist', { recursive: true, force: true });
