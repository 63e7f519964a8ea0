import { existsSync, readFileSync, writeFileSync } from 'node:fs';

/**
 * Replaces what sits between the `<!-- NAME:results:start -->` and `<!-- NAME:results:end -->`
 * markers in a Markdown file (NAME: `bench`, or `soak` for `npm run soak`), so the README and the docs
 * always show the last committed run rather than numbers typed by hand. Files without the markers
 * are left alone.
 * @param {string} file
 * @param {string} content
 * @param {string} [name]
 * @returns {boolean} whether the file held the markers
 */
export function replaceResultsSection(file, content, name = 'bench') {
  if (!existsSync(file)) return false;
  const START = `<!-- ${name}:results:start -->`;
  const END = `<!-- ${name}:results:end -->`;
  const text = readFileSync(file, 'utf8');
  const start = text.indexOf(START);
  const end = text.indexOf(END);
  if (start < 0 || end < start) return false;
  writeFileSync(file, `${text.slice(0, start + START.length)}\n${content.trim()}\n${text.slice(end)}`);
  return true;
}
