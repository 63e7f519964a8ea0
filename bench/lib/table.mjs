import { formatMs } from './svg.mjs';

/**
 * The one results table, as rows of cells: a column per model for the per-model measurements (1, 2,
 * 3, 5), then the model-free rows (4, 6, 7) with their value in the first column. Targets and whether
 * each was met sit next to the values, so the table reads on its own.
 *
 * @param {any} results what bench/run.mjs gathered
 * @returns {string[][]}
 */
export function resultRows(results) {
  /** @type {any[]} */
  const models = results.models;
  const header = ['measure', ...models.map((m) => m.label), 'target'];
  const row = (/** @type {string} */ label, /** @type {(m: any) => string} */ cell, target = '') => [
    label,
    ...models.map((m) => {
      try {
        return cell(m);
      } catch {
        return 'n/a';
      }
    }),
    target,
  ];
  const single = (/** @type {string} */ label, /** @type {string} */ value, target = '') => [
    label,
    value,
    ...models.slice(1).map(() => ''),
    target,
  ];
  const ips = (/** @type {any} */ p) => `${fmt(p.imagesPerSec)} img/s (batch ${p.batch}, ${p.workers}×${p.threads} thr)`;
  const mark = (/** @type {boolean} */ ok) => (ok ? ' ✓' : ' ✗');

  /** Targets against the yardstick (the issue's): the server at its defaults, per model, and the in-process pipeline. */
  const serverTarget = (/** @type {any} */ m) => (m.weights === 'mobilenet' ? 1.1 : 0.95);
  const yardstick = (/** @type {any} */ m) => m.yardstick?.best;
  const versus = (/** @type {number} */ ours, /** @type {any} */ m, /** @type {number} */ target) => {
    const y = yardstick(m);
    if (!y?.ok) return `not measured: ${y?.reason ?? 'no yardstick'}`;
    const r = ours / y.images_per_s;
    return `${r.toFixed(2)}${mark(r >= target)} (${fmt(ours)} ÷ ${fmt(y.images_per_s)})`;
  };
  const settings = (/** @type {any} */ s) =>
    s ? `${s.workers}×${s.intraOpThreads ?? 'no'} thr, batch ${s.batchSize}, delay ${s.maxBatchDelayMs} ms` : 'n/a';

  const rows = [
    header,
    row('1a. ONNX Runtime alone, batch 1', (m) => ips(m.ceiling.ort.batch1)),
    row('1b. ONNX Runtime alone, best batch', (m) => ips(m.ceiling.ort.best)),
    row('1c. in process with JPEG decode + preprocess, 1 process per core', (m) => ips(m.ceiling.atLayout)),
    row('1d. in process with JPEG decode + preprocess, best point', (m) => ips(m.ceiling.pipeline.best)),
    row(
      "1e. the yardstick: the peers' worker path (Pillow, numpy, onnxruntime)",
      (m) => {
        const y = yardstick(m);
        return y?.ok ? `${fmt(y.images_per_s)} img/s (${y.procs} processes × ${y.threads} thr)` : `not measured: ${y?.reason ?? 'no yardstick'}`;
      },
    ),
    row('2a. server at its defaults', (m) => `${fmt(m.server.requestsPerSec)} req/s (${settings(m.server.settings)}; ${m.server.requests} req, c=${m.server.concurrency})`),
    row('2b. failed requests', (m) => `${m.server.unsuccessful}${mark(m.server.unsuccessful === 0)}`, '0'),
    row('2c. keep-alive requests', (m) => `${m.server.keepAlive} of ${m.server.complete}`),
    row(
      '2d. latency p50 / p90 / p99 / max',
      (m) => ['p50', 'p90', 'p99', 'max'].map((k) => formatMs(m.server.latencyMs[k])).join(' / '),
    ),
    row(
      '2e. p99 against the queue bound (concurrency ÷ throughput)',
      (m) => {
        const bound = (m.server.concurrency / m.server.requestsPerSec) * 1000;
        const p99 = m.server.latencyMs.p99;
        return `${formatMs(p99)} vs ${formatMs(bound)} = ${(p99 / bound).toFixed(2)}×${mark(p99 / bound <= 1.2)}`;
      },
      '≤ 1.2×',
    ),
    row('2f. mean batch size', (m) => (m.server.meanBatchSize == null ? 'unavailable' : m.server.meanBatchSize.toFixed(2))),
    row(
      '2g. CPU per request: front end / workers',
      (m) => `${cpuPerRequest(m.server.cpuMsPerRequest)}${mark(m.server.cpuMsPerRequest.server <= 0.5)}`,
      'front end ≤ 0.5 ms',
    ),
    row('2h. peak RSS, server + workers', (m) => `${mib(m.server.rss.peakBytes)} (${m.server.rss.processes} processes)`),
    row(
      '2i. RSS growth, after warm-up → end',
      (m) => {
        const r = m.server.rss;
        const each = (r.byProcess ?? []).map((/** @type {any} */ p) => `${p.role} ${pct(p.endBytes / p.afterWarmupBytes - 1)}`).join(', ');
        return `${mib(r.afterWarmupBytes)} → ${mib(r.endBytes)} (${pct(r.growth)})${mark(r.growth <= 0.05)}${each ? `; ${each}` : ''}`;
      },
      '≤ +5 %',
    ),
    row(
      '3a. server at its defaults ÷ yardstick (2a ÷ 1e)',
      (m) => versus(m.server.requestsPerSec, m, serverTarget(m)),
      '≥ 1.10 MobileNet, ≥ 0.95 ResNet-50',
    ),
    row('3b. in-process pipeline ÷ yardstick (1c ÷ 1e)', (m) => versus(m.ceiling.atLayout.imagesPerSec, m, 1.3), '≥ 1.30'),
    row(
      '3c. server ÷ in-process pipeline (2a ÷ 1d)',
      (m) => `${m.ratio.toFixed(2)} (÷ 1b: ${(m.server.requestsPerSec / m.ceiling.ort.best.imagesPerSec).toFixed(2)})`,
    ),
    row(
      '5. cold start, `--start` → first 200',
      (m) => {
        const steps = Object.entries(m.coldStartPhases ?? {}).map(([step, ms]) => `${step} ${formatMs(/** @type {number} */ (ms))}`);
        const total = `${formatMs(m.coldStartMs)}${m.weights === 'resnet50' ? mark(m.coldStartMs < 1500) : ''}`;
        return steps.length > 0 ? `${total} (${steps.join(', ')})` : total;
      },
      '< 1.5 s (ResNet-50)',
    ),
  ];
  if (results.echo) {
    const e = results.echo;
    rows.push(
      single(
        '4a. echo handler through model-server',
        `${fmt(e.server.requestsPerSec)} req/s, p99 ${formatMs(e.server.latencyMs.p99)}, ${e.server.unsuccessful} failed, mean batch ${e.server.meanBatchSize == null ? 'n/a' : e.server.meanBatchSize.toFixed(2)}, CPU/request ${cpuPerRequest(e.server.cpuMsPerRequest)}`,
      ),
      single(
        '4b. bare node:http echo',
        `${fmt(e.bare.requestsPerSec)} req/s, p99 ${formatMs(e.bare.latencyMs.p99)}, ${e.bare.unsuccessful} failed${e.bare.cpuMsPerRequest ? `, CPU/request ${e.bare.cpuMsPerRequest.server.toFixed(3)} ms` : ''}`,
      ),
      single('4c. echo path / bare (4a ÷ 4b)', `${e.ratio.toFixed(2)}${mark(e.ratio >= 0.5)}`, '≥ 0.50'),
    );
  }
  if (results.pixels) {
    const px = results.pixels;
    rows.push(
      single(
        "7. preprocessing vs the peers' (Pillow bilinear), all shared photos",
        px.ok
          ? `max ${px.maxLevels.toFixed(0)} of 255 levels (${px.worstImage}), mean ${px.meanLevels.toFixed(2)}, ${px.images} photos, ${px.backend}`
          : `not measured: ${px.reason}`,
      ),
    );
  }
  if (results.archive) {
    const a = results.archive;
    rows.push(
      single(
        `6. model-archiver vs copy (${mib(a.modelBytes)} model)`,
        `${formatMs(a.archiverMs)} vs ${formatMs(a.copyMs)} = ${a.ratio.toFixed(2)}×${mark(a.ratio <= 1.5)} (createArchive() in process ${formatMs(a.inProcessMs)}; sha256 of the file alone ${formatMs(a.sha256Ms)})`,
        '≤ 1.5×',
      ),
    );
  }
  return rows;
}

/** Markdown with padded columns: the same text reads as a table in a terminal and on GitHub. */
export function renderTable(/** @type {string[][]} */ rows) {
  const widths = rows[0]?.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length))) ?? [];
  const line = (/** @type {string[]} */ r) => `| ${r.map((c, i) => c.padEnd(widths[i] ?? 0)).join(' | ')} |`;
  const [head, ...body] = rows;
  if (!head) return '';
  return [line(head), line(widths.map((w) => '-'.repeat(w))), ...body.map(line)].join('\n');
}

/** @param {{ server: number, workers: number } | undefined} c */
function cpuPerRequest(c) {
  return c ? `${c.server.toFixed(3)} ms / ${c.workers.toFixed(3)} ms` : 'n/a';
}

/** @param {number} v */
function fmt(v) {
  return v >= 100 ? v.toFixed(0) : v.toFixed(1);
}

/** @param {number} bytes */
export function mib(bytes) {
  return `${(bytes / 2 ** 20).toFixed(0)} MiB`;
}

/** @param {number} f */
function pct(f) {
  return `${f >= 0 ? '+' : ''}${(f * 100).toFixed(1)} %`;
}
