/**
 * Expands `--- @include "<path>"` lines of a Lua file (BullMQ's syntax) with the named file's text,
 * so a block shared by several scripts is written once (`lua/includes/`). The path is relative to the
 * file holding the line, `.lua` optional. Included files may include others; each file goes in at
 * most once per script (at its first mention), and a missing file or a cycle is an error.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';

const INCLUDE = /^--- @include "([^"]+)"[ \t]*\r?\n?/gm;

/** The text of `file` with its includes expanded, recursively. */
export function expandLua(file: string): string {
  return expand(path.resolve(file), [], new Set());
}

/** `chain`: the files being expanded around this one (a cycle); `done`: files already in. */
function expand(file: string, chain: string[], done: Set<string>): string {
  done.add(file);
  return readFileSync(file, 'utf8').replace(INCLUDE, (_line, ref: string) => {
    const target = path.resolve(path.dirname(file), ref.endsWith('.lua') ? ref : `${ref}.lua`);
    const inner = [...chain, file];
    if (inner.includes(target)) throw new Error(`Lua include cycle: ${[...inner, target].map(short).join(' -> ')}`);
    if (done.has(target)) return '';
    if (!existsSync(target)) throw new Error(`${short(file)}: included "${ref}" not found (${target})`);
    return withNewline(expand(target, inner, done));
  });
}

const withNewline = (text: string): string => (text.endsWith('\n') ? text : `${text}\n`);

const short = (file: string): string => path.join(path.basename(path.dirname(file)), path.basename(file));
