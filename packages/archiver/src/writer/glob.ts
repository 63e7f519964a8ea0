import { readdir } from 'node:fs/promises';
import { isAbsolute, join, resolve } from 'node:path';

const GLOB_CHARS = /[*?[]/;

export function isGlob(pattern: string): boolean {
  return GLOB_CHARS.test(pattern);
}

/** Python's `glob.glob` without `**`: `*`, `?` and `[...]` within one path segment, hidden names only when asked for. */
function segmentRegExp(segment: string): RegExp {
  let source = '';
  for (let i = 0; i < segment.length; i++) {
    const c = segment[i] as string;
    if (c === '*') source += '[^/]*';
    else if (c === '?') source += '[^/]';
    else if (c === '[') {
      const close = segment.indexOf(']', i + 2);
      if (close < 0) source += '\\[';
      else {
        const body = segment.slice(i + 1, close).replace(/\\/g, '\\\\');
        source += body.startsWith('!') ? `[^${body.slice(1)}]` : `[${body}]`;
        i = close;
      }
    } else source += c.replace(/[.+^${}()|\\]/g, '\\$&');
  }
  return new RegExp(`^${source}$`);
}

export async function expandGlob(pattern: string, cwd: string): Promise<string[]> {
  const absolute = isAbsolute(pattern) ? pattern : resolve(cwd, pattern);
  const segments = absolute.split('/').filter((s) => s !== '');
  let matches = ['/'];
  for (const segment of segments) {
    const next: string[] = [];
    for (const base of matches) {
      if (!isGlob(segment)) {
        next.push(join(base, segment));
        continue;
      }
      const re = segmentRegExp(segment);
      const names = await readdir(base).catch(() => [] as string[]);
      for (const name of names.sort()) {
        if (name.startsWith('.') && !segment.startsWith('.')) continue;
        if (re.test(name)) next.push(join(base, name));
      }
    }
    matches = next;
  }
  return matches;
}
