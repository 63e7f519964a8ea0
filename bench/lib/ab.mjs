import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * Runs Apache Bench the way the tutorial does (`ab -k -n N -c C`, a JPEG body posted to the URL) and
 * parses what it prints. `-l` accepts responses whose length varies (probabilities print with varying
 * digits), which ab would otherwise count as failures; `-e` gives the full percentile curve with
 * sub-millisecond resolution, where the text report rounds to whole milliseconds.
 *
 * @param {{ url: string, bodyFile: string, contentType?: string, requests: number, concurrency: number, timeoutS?: number }} o
 */
export async function runAb(o) {
  const dir = await mkdtemp(join(tmpdir(), 'nodeserve-ab-'));
  const csv = join(dir, 'percentiles.csv');
  const args = [
    '-k', '-l', '-q',
    '-n', String(o.requests),
    '-c', String(o.concurrency),
    '-s', String(o.timeoutS ?? 120),
    '-p', o.bodyFile,
    '-T', o.contentType ?? 'image/jpeg',
    '-e', csv,
    o.url,
  ];
  try {
    const { code, stdout, stderr } = await capture('ab', args);
    if (code !== 0) throw new Error(`ab exited with ${code}: ${stderr.trim() || stdout.trim()}`);
    const result = parseAbReport(stdout);
    result.percentilesMs = parseAbPercentiles(await readFile(csv, 'utf8'));
    if (result.percentilesMs.length > 0) {
      const at = (/** @type {number} */ p) => percentileFromCurve(result.percentilesMs, p);
      result.latencyMs = { p50: at(50), p90: at(90), p99: at(99), max: at(100) };
    }
    result.command = `ab ${args.filter((a) => a !== csv && a !== '-e').join(' ')}`;
    return result;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** @param {string} text ab's report on stdout */
export function parseAbReport(text) {
  /** @param {RegExp} re */
  const num = (re) => {
    const m = re.exec(text);
    return m ? Number(m[1]) : undefined;
  };
  const complete = num(/^Complete requests:\s+(\d+)/m);
  const rps = num(/^Requests per second:\s+([\d.]+)/m);
  if (complete === undefined || rps === undefined) throw new Error(`cannot parse ab output:\n${text.slice(0, 2000)}`);
  const failed = num(/^Failed requests:\s+(\d+)/m) ?? 0;
  const non2xx = num(/^Non-2xx responses:\s+(\d+)/m) ?? 0;
  return {
    complete,
    failed,
    non2xx,
    /** Everything that did not come back as a 2xx answer: ab counts these two apart. */
    unsuccessful: failed + non2xx,
    keepAlive: num(/^Keep-Alive requests:\s+(\d+)/m) ?? 0,
    seconds: num(/^Time taken for tests:\s+([\d.]+)/m) ?? 0,
    requestsPerSec: rps,
    meanMs: num(/^Time per request:\s+([\d.]+) \[ms\] \(mean\)$/m) ?? 0,
    latencyMs: {
      p50: num(/^\s+50%\s+(\d+)/m) ?? 0,
      p90: num(/^\s+90%\s+(\d+)/m) ?? 0,
      p99: num(/^\s+99%\s+(\d+)/m) ?? 0,
      max: num(/^\s+100%\s+(\d+)/m) ?? 0,
    },
    /** @type {Array<[number, number]>} */
    percentilesMs: [],
    command: '',
  };
}

/**
 * ab's `-e` file: `Percentage served,Time in ms` then one row per whole percent, 0…100.
 * @param {string} csv
 * @returns {Array<[number, number]>}
 */
export function parseAbPercentiles(csv) {
  return csv
    .split('\n')
    .slice(1)
    .map((line) => line.split(',').map(Number))
    .filter((row) => row.length === 2 && row.every(Number.isFinite))
    .map(([p, ms]) => /** @type {[number, number]} */ ([p, ms]));
}

/** Percentile from ab's curve, with sub-millisecond resolution where the text report has none. */
export function percentileFromCurve(/** @type {Array<[number, number]>} */ curve, /** @type {number} */ p) {
  const row = curve.find(([q]) => q >= p);
  return row ? row[1] : Number.NaN;
}

/**
 * @param {string} cmd
 * @param {string[]} args
 * @returns {Promise<{ code: number | null, stdout: string, stderr: string }>}
 */
function capture(cmd, args) {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}
