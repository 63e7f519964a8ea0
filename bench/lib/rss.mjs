import { readFile } from 'node:fs/promises';
import { processTree } from '../../scripts/demo/processes.mjs';

/**
 * Resident memory of a process and all its descendants (the server and its worker processes):
 * the sum of VmRSS over the tree.
 * @param {number} rootPid
 * @returns {Promise<{ bytes: number, byPid: Record<number, number> }>}
 */
export async function treeRss(rootPid) {
  let bytes = 0;
  /** @type {Record<number, number>} */
  const byPid = {};
  for (const pid of processTree(rootPid)) {
    const status = await readFile(`/proc/${pid}/status`, 'utf8').catch(() => '');
    const m = /^VmRSS:\s+(\d+) kB/m.exec(status);
    if (!m) continue;
    byPid[pid] = Number(m[1]) * 1024;
    bytes += byPid[pid];
  }
  return { bytes, byPid };
}

/** The share of a load's samples, at its start and at its end, whose medians are compared for growth. */
const LEVEL_WINDOW = 0.1;

/**
 * Samples the tree's RSS every `intervalMs` until stopped; `mark(label)` records the current value,
 * in total and per process, under a name (e.g. after warm-up, at the end) so flatness can be judged
 * on the same series and any growth put on the process that grew.
 *
 * `stop()` also gives `levels`: the median of the samples in the first and in the last tenth of the
 * series, in total and per process. Those are what growth is judged on: one sample of a Node process
 * under load lands anywhere on the saw-tooth of garbage buffers its next collection frees (±10 % of
 * the front end's RSS under the echo load), while the median of a window is its level.
 * @param {number} rootPid
 * @param {number} [intervalMs]
 */
export function sampleRss(rootPid, intervalMs = 200) {
  /** @type {Array<{ t: number, bytes: number, byPid: Record<number, number> }>} */
  const series = [];
  /** @type {Record<string, number>} */
  const marks = {};
  /** @type {Record<string, Record<number, number>>} */
  const marksByPid = {};
  const t0 = Date.now();
  let stopped = false;
  const tick = async () => {
    while (!stopped) {
      const { bytes, byPid } = await treeRss(rootPid);
      if (bytes > 0) series.push({ t: Date.now() - t0, bytes, byPid });
      await new Promise((r) => setTimeout(r, intervalMs));
    }
  };
  const loop = tick();
  return {
    async mark(/** @type {string} */ label) {
      const { bytes, byPid } = await treeRss(rootPid);
      marks[label] = bytes;
      marksByPid[label] = byPid;
      return bytes;
    },
    async stop() {
      stopped = true;
      await loop;
      const peak = series.reduce((m, s) => Math.max(m, s.bytes), 0);
      const window = Math.max(1, Math.round(series.length * LEVEL_WINDOW));
      const levels = { start: level(series.slice(0, window)), end: level(series.slice(-window)) };
      return { peakBytes: Math.max(peak, ...Object.values(marks)), marks, marksByPid, levels, samples: series.length };
    },
  };
}

/**
 * The median of some samples, in total and per process.
 * @param {Array<{ bytes: number, byPid: Record<number, number> }>} samples
 */
function level(samples) {
  /** @param {number[]} values */
  const median = (values) => {
    const sorted = [...values].sort((a, b) => a - b);
    const mid = sorted.length >> 1;
    return sorted.length === 0 ? 0 : sorted.length % 2 ? /** @type {number} */ (sorted[mid]) : (/** @type {number} */ (sorted[mid - 1]) + /** @type {number} */ (sorted[mid])) / 2;
  };
  const pids = new Set(samples.flatMap((s) => Object.keys(s.byPid).map(Number)));
  /** @type {Record<number, number>} */
  const byPid = {};
  for (const pid of pids) byPid[pid] = median(samples.map((s) => s.byPid[pid] ?? 0));
  return { bytes: median(samples.map((s) => s.bytes)), byPid, samples: samples.length };
}
