import { FAULT_KINDS, FAULT_NAMES } from './faults.mjs';

const MiB = 2 ** 20;

/**
 * The soak's result as one Markdown table, readable on its own: what ran, on what, what was sent
 * and answered, what was injected and recovered, latency before, during and after the faults, and
 * the memory of the server and of each worker at start, after warm-up and at the end.
 * @param {any} r what `runSoak` returned
 * @returns {string}
 */
export function renderSoakTable(r) {
  /** @type {string[]} */
  const rows = [];
  const row = (/** @type {string} */ what, /** @type {string} */ value, mustBe = '') => rows.push(`| ${what} | ${value} | ${mustBe} |`);
  const s = r.settings;
  const minutes = (/** @type {number} */ ms) => `${(ms / 60_000).toFixed(1)} min`;
  row('ran', `${minutes(s.ranMs)} (planned ${minutes(s.plannedMs)}), ${s.concurrency} clients paced to ${s.rate} req/s, at most ${s.requests.toLocaleString('en-US')} requests`);
  row('machine', `${r.machine.cpus} × ${r.machine.cpuModel}, ${r.machine.memoryGiB.toFixed(0)} GiB, Node ${r.machine.node}; load average ${r.machine.loadBefore[0].toFixed(1)} before, ${r.machine.loadAfter[0].toFixed(1)} after`);
  row('server', `${s.workers} workers, batch_size ${s.batchSize}, max_batch_delay ${s.maxBatchDelayMs} ms, default_response_timeout ${s.responseTimeoutS} s, handler ${s.handlerMs} ms per batch`);
  row('requests sent', r.requests.sent.toLocaleString('en-US'));
  row('answers by status', Object.entries(r.requests.byStatus).map(([status, n]) => `${status}: ${n.toLocaleString('en-US')}`).join(', '));
  const loadErrors = Object.entries(r.requests.loadErrors).map(([status, n]) => `${status}: ${n}`).join(', ');
  row('steady-load requests not answered 200', loadErrors === '' ? 'none' : loadErrors, 'at most one 504 per SIGSTOP');
  row('answered twice (client · access log · server guard)', `${r.requests.answeredTwice} · ${r.serverSide.duplicateIds} · ${r.serverSide.answeredTwiceLogged}`, '0 · 0 · 0');
  row('answers for another request, or missing from the access log', `${r.requests.crossed} · ${r.serverSide.missingIds}`, '0 · 0');
  const never = Object.entries(r.requests.failureKinds).map(([why, n]) => `${n} ${why}`).join(', ');
  row('never answered', `${r.requests.neverAnswered}${never === '' ? '' : ` (${never})`}`, '0');
  for (const kind of FAULT_KINDS) {
    const of = r.faults.filter((/** @type {any} */ f) => f.kind === kind);
    const recovered = of.filter((/** @type {any} */ f) => f.recovered);
    const slowest = Math.max(0, ...of.map((/** @type {any} */ f) => f.recoveryMs));
    row(`fault: ${FAULT_NAMES[kind]}`, `${of.length} injected, ${recovered.length} recovered (slowest in ${(slowest / 1000).toFixed(1)} s)`, 'all recovered');
  }
  row('requests retried after a lost worker (died · timeout) · retried and lost again', `${r.retries.died} · ${r.retries.timeout} · ${r.retries.failed}`);
  row('workers replaced', String(r.restarts));
  const ms = (/** @type {number} */ v) => (Number.isNaN(v) ? '–' : `${v.toFixed(0)} ms`);
  row('latency p50 / p99 before the faults', `${ms(r.latency.before.p50)} / ${ms(r.latency.before.p99)} (${r.latency.before.count} requests)`);
  row('latency p50 / p99 during the faults', `${ms(r.latency.during.p50)} / ${ms(r.latency.during.p99)} (${r.latency.during.count} requests)`);
  row('latency p50 / p99 after the faults', `${ms(r.latency.after.p50)} / ${ms(r.latency.after.p99)} (${r.latency.after.count} requests)`);
  const stopStatuses = Object.entries(r.stop.byStatus).map(([status, n]) => `${status}: ${n}`).join(', ');
  row('`--stop` with requests in flight', `${r.stop.inFlight} in flight of a burst of ${r.stop.sent}; answered ${stopStatuses}; exit ${r.stop.exitCode}; processes left ${r.stop.survivors.length}`, 'all answered, exit 0, none left');
  const mib = (/** @type {number} */ b) => (b / MiB).toFixed(0);
  const workers = (/** @type {any} */ m) => m.workers.map((/** @type {any} */ w) => mib(w.bytes)).join(', ');
  row('RSS of the server, MiB: start · after warm-up · end', `${mib(r.rss.start.server)} · ${mib(r.rss.warm.server)} · ${mib(r.rss.end.server)}`);
  const marks = [r.rss.start, r.rss.warm, r.rss.end];
  row('the server\'s JS heap in use, MiB: start · after warm-up · end', marks.map((m) => mib(m.serverHeapUsed)).join(' · '));
  row('the server\'s memory outside the heap (Buffers), MiB: start · after warm-up · end', marks.map((m) => mib(m.serverExternal)).join(' · '));
  row('mark-compacts of the server\'s heap so far: start · after warm-up · end', marks.map((m) => String(m.serverMajorGcs)).join(' · '));
  row('the server\'s highest RSS in each tenth of the load, MiB', byTenth(r.samples ?? [], r.settings.ranMs).map((b) => (b === undefined ? '–' : mib(b))).join(' · '));
  row('RSS of each worker, MiB: start · after warm-up · end', `${workers(r.rss.start)} · ${workers(r.rss.warm)} · ${workers(r.rss.end)}`);
  row('result', r.passed ? 'passed' : 'FAILED', 'passed');
  return ['| measure | value | must be |', '| --- | --- | --- |', ...rows].join('\n');
}

/**
 * The highest server RSS sampled in each tenth of the load (undefined where no sample fell), so a
 * reader sees whether memory climbs to a level and stays there or keeps climbing.
 * @param {{ t: number, server: number }[]} samples
 * @param {number} ranMs
 * @returns {(number | undefined)[]}
 */
export function byTenth(samples, ranMs) {
  /** @type {(number | undefined)[]} */
  const tenths = Array.from({ length: 10 }, () => undefined);
  for (const { t, server } of samples) {
    const i = Math.min(9, Math.floor((t / ranMs) * 10));
    tenths[i] = Math.max(tenths[i] ?? 0, server);
  }
  return tenths;
}
