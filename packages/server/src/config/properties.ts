/** One `key=value` entry of a Java properties file, with the line it started on (for error messages). */
export interface PropertyEntry {
  key: string;
  value: string;
  line: number;
}

/** A properties file larger than this is not a config file; refuse it rather than parse it. */
export const MAX_PROPERTIES_BYTES = 1024 * 1024;

/**
 * Parses the `java.util.Properties` text format that TorchServe and MMS read `config.properties` with:
 * `key=value`, `key: value` or `key value`; `#` and `!` comment lines; a line ending in an odd number of
 * backslashes continues on the next one (leading whitespace there is dropped); `\t \n \r \f \uXXXX`
 * escapes, and `\x` for any other `x`. A key given twice keeps its last value, as in Java.
 */
export function parseProperties(text: string): PropertyEntry[] {
  const lines = text.split(/\r\n|\r|\n/);
  const entries: PropertyEntry[] = [];
  for (let i = 0; i < lines.length; i++) {
    let logical = stripLeading(lines[i] ?? '');
    if (logical === '' || logical.startsWith('#') || logical.startsWith('!')) continue;
    const startLine = i + 1;
    while (endsWithContinuation(logical) && i + 1 < lines.length) {
      i++;
      logical = logical.slice(0, -1) + stripLeading(lines[i] ?? '');
    }
    if (endsWithContinuation(logical)) logical = logical.slice(0, -1);
    const { key, rest } = splitKey(logical);
    entries.push({ key: unescape(key), value: unescape(rest), line: startLine });
  }
  return entries;
}

function stripLeading(s: string): string {
  return s.replace(/^[ \t\f]+/, '');
}

function endsWithContinuation(s: string): boolean {
  let n = 0;
  for (let j = s.length - 1; j >= 0 && s[j] === '\\'; j--) n++;
  return n % 2 === 1;
}

function splitKey(line: string): { key: string; rest: string } {
  let j = 0;
  while (j < line.length) {
    const c = line[j];
    if (c === '\\') {
      j += 2;
      continue;
    }
    if (c === '=' || c === ':' || c === ' ' || c === '\t' || c === '\f') break;
    j++;
  }
  const key = line.slice(0, j);
  let k = j;
  while (k < line.length && (line[k] === ' ' || line[k] === '\t' || line[k] === '\f')) k++;
  if (k < line.length && (line[k] === '=' || line[k] === ':')) k++;
  while (k < line.length && (line[k] === ' ' || line[k] === '\t' || line[k] === '\f')) k++;
  return { key, rest: line.slice(k) };
}

const SIMPLE_ESCAPES: Record<string, string> = { t: '\t', n: '\n', r: '\r', f: '\f' };

function unescape(s: string): string {
  if (!s.includes('\\')) return s;
  let out = '';
  for (let j = 0; j < s.length; j++) {
    const c = s[j] as string;
    if (c !== '\\' || j + 1 >= s.length) {
      out += c;
      continue;
    }
    const next = s[++j] as string;
    if (next === 'u' && /^[0-9a-fA-F]{4}$/.test(s.slice(j + 1, j + 5))) {
      out += String.fromCharCode(parseInt(s.slice(j + 1, j + 5), 16));
      j += 4;
    } else {
      out += SIMPLE_ESCAPES[next] ?? next;
    }
  }
  return out;
}
