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

/**
 * Samples the tree's RSS every `intervalMs` until stopped; `mark(label)` records the current value,
 * in total and per process, under a name (e.g. after warm-up, at the end) so flatness can be judged
 * on the same series and any growth put on the process that grew.
 * @param {number} rootPid
 * @param {number} [intervalMs]
 */
export function sampleRss(rootPid, intervalMs = 200) {
  /** @type {Array<{ t: number, bytes: number }>} */
  const series = [];
  /** @type {Record<string, number>} */
  const marks = {};
  /** @type {Record<string, Record<number, number>>} */
  const marksByPid = {};
  const t0 = Date.now();
  let stopped = false;
  const tick = async () => {
    while (!stopped) {
      const { bytes } = await treeRss(rootPid);
      if (bytes > 0) series.push({ t: Date.now() - t0, bytes });
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
      return { peakBytes: Math.max(peak, ...Object.values(marks)), marks, marksByPid, samples: series.length };
    },
  };
}
