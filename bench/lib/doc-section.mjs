import { existsSync, readFileSync, writeFileSync } from 'node:fs';

const START = '<!-- bench:results:start -->';
const END = '<!-- bench:results:end -->';

/**
 * Replaces what sits between the bench markers in a Markdown file, so the README and
 * docs/benchmark.md always show the last committed run rather than numbers typed by hand. Files
 * without the markers are left alone.
 * @param {string} file
 * @param {string} content
 * @returns {boolean} whether the file held the markers
 */
export function replaceResultsSection(file, content) {
  if (!existsSync(file)) return false;
  const text = readFileSync(file, 'utf8');
  const start = text.indexOf(START);
  const end = text.indexOf(END);
  if (start < 0 || end < start) return false;
  writeFileSync(file, `${text.slice(0, start + START.length)}\n${content.trim()}\n${text.slice(end)}`);
  return true;
}
