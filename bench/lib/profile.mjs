import { readdir, readFile } from 'node:fs/promises';
import { basename, join } from 'node:path';

/**
 * The functions that took the most CPU in a V8 `.cpuprofile` (`node --cpu-prof`), by self time,
 * with their share of all samples; enough to say what limits a number without a profiler UI.
 * @param {string} file
 * @param {number} [top]
 */
export async function summarizeCpuProfile(file, top = 12) {
  /** @type {{ nodes: Array<{ id: number, hitCount?: number, callFrame: { functionName: string, url: string, lineNumber: number } }>, startTime: number, endTime: number }} */
  const profile = JSON.parse(await readFile(file, 'utf8'));
  /** @type {Map<string, number>} */
  const self = new Map();
  let total = 0;
  for (const node of profile.nodes) {
    const hits = node.hitCount ?? 0;
    if (hits === 0) continue;
    total += hits;
    const { functionName, url, lineNumber } = node.callFrame;
    const where = url ? `${shortUrl(url)}:${lineNumber + 1}` : '';
    const key = `${functionName || '(anonymous)'}${where ? ` ${where}` : ''}`;
    self.set(key, (self.get(key) ?? 0) + hits);
  }
  const entries = [...self.entries()].sort((a, b) => b[1] - a[1]).slice(0, top);
  return {
    file: basename(file),
    seconds: (profile.endTime - profile.startTime) / 1e6,
    top: entries.map(([fn, hits]) => ({ fn, share: hits / Math.max(1, total) })),
  };
}

/** Every `.cpuprofile` in a directory, summarised. */
export async function summarizeProfiles(/** @type {string} */ dir) {
  const files = (await readdir(dir).catch(() => [])).filter((f) => f.endsWith('.cpuprofile')).sort();
  return Promise.all(files.map((f) => summarizeCpuProfile(join(dir, f))));
}

/** node_modules/<pkg>/… or the path inside the repository; enough to find the code. */
function shortUrl(/** @type {string} */ url) {
  const path = url.replace(/^file:\/\//, '');
  const nm = path.lastIndexOf('node_modules/');
  if (nm >= 0) return path.slice(nm + 'node_modules/'.length);
  const pkg = path.search(/(packages|examples|bench)\//);
  return pkg >= 0 ? path.slice(pkg) : path;
}
