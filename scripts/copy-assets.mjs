// Copies the Lua scripts next to the compiled loader (dist/src/redis/lua).
import { cpSync } from 'node:fs';
cpSync('src/redis/lua', 'dist/src/redis/lua', { recursive: true });
