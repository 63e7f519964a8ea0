import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { CountingClient, PHASES } from './client.mjs';
import { FAULT_KINDS, REQUESTS_PER_FAULT, injectFault } from './faults.mjs';
import { SERVER_SETTINGS, counter, startSoakServer } from './server.mjs';

/** Milliseconds each batch of good requests spends in the handler. */
const HANDLER_MS = 5;
/** A request with no answer after this long is counted as never answered. */
const CLIENT_TIMEOUT_MS = 60_000;
/** Share of the run before the first fault, and after the last one. */
const CALM_SHARE = 0.15;
/** How often the server's memory is sampled during the load: 120 samples in 30 minutes. */
const SAMPLE_EVERY_MS = 15_000;

/**
 * @typedef {{
 *   root: string,
 *   durationMs: number,
 *   requests: number,
 *   concurrency: number,
 *   rate: number,
 *   faultEveryMs: number,
 *   log?: (line: string) => void,
 * }} SoakOptions
 */

/**
 * Runs a real server under steady load on 127.0.0.1 — `concurrency` clients paced to `rate`
 * requests a second in all, each request with its own id — for `durationMs` or `requests` requests,
 * whichever comes first, and injects the faults of `FAULT_KINDS` in turn between a calm start and a
 * calm end. Then fires a burst of slow requests and stops the server with `model-server --stop` while
 * they are in flight. Everything is counted per request id on the client, and checked against the
 * server's access log (one line per id) and its log (no request answered twice).
 * @param {SoakOptions} o
 */
export async function runSoak(o) {
  const log = o.log ?? (() => undefined);
  for (const cli of ['packages/server/dist/cli.js', 'packages/archiver/dist/cli.js']) {
    if (!existsSync(join(o.root, cli))) throw new Error(`${cli} is missing: run npm run build first`);
  }
  const plannedMs = Math.min(o.durationMs, (o.requests / o.rate) * 1000);
  const calmMs = plannedMs * CALM_SHARE;
  const duringMs = plannedMs - 2 * calmMs;
  const dir = mkdtempSync(join(tmpdir(), 'nodeserve-soak-'));
  const startedAt = new Date();
  const loadBefore = loadavg();
  log(`soak: ${(plannedMs / 1000).toFixed(0)} s planned, ${o.concurrency} clients at ${o.rate} req/s, server in ${dir}`);
  const server = await startSoakServer({ root: o.root, dir, handler: join(o.root, 'test/fixtures/server/poison.mjs') });
  let ok = false;
  try {
    await server.workers();
    /** @typedef {Awaited<ReturnType<typeof server.rss>>} Rss */
    const rss = { start: await server.rss(), warm: /** @type {Rss | undefined} */ (undefined), end: /** @type {Rss | undefined} */ (undefined) };
    const count = Math.max(FAULT_KINDS.length, Math.floor(duringMs / o.faultEveryMs));
    // The load's requests, the faults' own, and the burst in flight at `--stop`.
    const capacity = o.requests + count * REQUESTS_PER_FAULT + 2 * o.concurrency;
    const client = new CountingClient({ base: server.inference, capacity, timeoutMs: CLIENT_TIMEOUT_MS });
    const t0 = Date.now();
    // The server's memory every SAMPLE_EVERY_MS, to tell growth that levels off from growth that does not.
    /** @type {{ t: number, server: number, heapUsed: number, majorGcs: number }[]} */
    const samples = [];
    const sampler = setInterval(() => {
      server.rss().then(
        (m) => samples.push({ t: Date.now() - t0, server: m.server, heapUsed: m.serverHeapUsed, majorGcs: m.serverMajorGcs }),
        () => {}, // a sample missed while a fault holds the server busy is just missing
      );
    }, SAMPLE_EVERY_MS);
    const phaseNow = () => {
      const t = Date.now() - t0;
      return t < calmMs ? 0 : t < calmMs + duringMs ? 1 : 2;
    };

    // The steady load: request k is due at t0 + k / rate; a client that falls behind sends at once.
    let scheduled = 0;
    let stopLoad = false;
    const clients = Array.from({ length: o.concurrency }, async () => {
      for (;;) {
        const k = scheduled++;
        if (k >= o.requests) return;
        const due = t0 + (k * 1000) / o.rate;
        if (due - Date.now() > 0) await sleep(due - Date.now());
        if (stopLoad || Date.now() - t0 >= plannedMs) return;
        await client.send({ path: '/predictions/soak', query: `?ms=${HANDLER_MS}`, body: `body-${k}`, phase: phaseNow() });
      }
    });

    await sleep(calmMs);
    rss.warm = await server.rss();
    log(`soak: warmed up after ${client.sent} requests; injecting faults`);
    /** @type {import('./faults.mjs').FaultResult[]} */
    const faults = [];
    for (let i = 0; i < count; i++) {
      const at = t0 + calmMs + (i * duringMs) / count;
      if (at - Date.now() > 0) await sleep(at - Date.now());
      // Every kind is injected at least once, even when earlier faults took longer than their slot.
      if (i >= FAULT_KINDS.length && Date.now() - t0 >= calmMs + duringMs) break;
      const kind = FAULT_KINDS[i % FAULT_KINDS.length];
      const result = await injectFault(kind, { server, client, phase: 1 });
      faults.push(result);
      log(`soak: fault ${i + 1}/${count} ${kind}: ${result.recovered ? 'recovered' : 'NOT RECOVERED'} in ${(result.recoveryMs / 1000).toFixed(1)} s (${result.detail})`);
    }
    await Promise.all(clients);
    clearInterval(sampler);
    rss.end = await server.rss();
    const metrics = await server.metrics();
    log(`soak: load done, ${client.sent} requests; stopping the server with requests in flight`);

    // The end: a burst of slow requests, then `--stop` while they run. Each must be answered.
    const burst = Array.from({ length: 2 * o.concurrency }, (_, i) =>
      client.send({ path: '/predictions/soak', query: '?ms=300', body: `burst-${i}`, phase: 3 }));
    await sleep(150);
    const inFlightAtStop = client.inFlight;
    const stopCode = await server.stop();
    const burstAnswers = await Promise.all(burst);
    await sleep(500);
    const survivors = server.survivors();

    const summary = client.summary();
    const serverSide = checkLogs(server.logs(), client);
    const latency = Object.fromEntries(PHASES.slice(0, 3).map((name, phase) => {
      const { count: n, values: [p50, p99] } = client.percentiles(phase, [50, 99]);
      return [name, { count: n, p50, p99 }];
    }));
    /** @type {Record<string, number>} */
    const burstByStatus = {};
    for (const a of burstAnswers) burstByStatus[a.status ?? 'none'] = (burstByStatus[a.status ?? 'none'] ?? 0) + 1;
    const labels = { model_name: 'soak', model_version: '1.0' };
    const result = {
      startedAt: startedAt.toISOString(),
      machine: { cpus: cpus().length, cpuModel: cpus()[0]?.model ?? '?', memoryGiB: totalmem() / 2 ** 30, loadBefore, loadAfter: loadavg(), node: process.version },
      settings: { plannedMs, ranMs: Date.now() - t0, concurrency: o.concurrency, rate: o.rate, requests: o.requests, handlerMs: HANDLER_MS, ...SERVER_SETTINGS },
      requests: summary,
      serverSide,
      faults,
      latency,
      retries: {
        died: counter(metrics, 'ts_request_retries_total', { ...labels, cause: 'died' }),
        timeout: counter(metrics, 'ts_request_retries_total', { ...labels, cause: 'timeout' }),
        failed: counter(metrics, 'ts_request_retries_failed_total', labels),
      },
      restarts: counter(metrics, 'ts_worker_restarts_total', labels),
      stop: { inFlight: inFlightAtStop, sent: burst.length, byStatus: burstByStatus, exitCode: stopCode, survivors },
      rss,
      samples,
    };
    ok = passed(result);
    return { ...result, passed: ok };
  } finally {
    await server.kill();
    if (ok) rmSync(dir, { recursive: true, force: true });
    else log(`soak: the server's directory and logs are kept in ${dir}`);
  }
}

/**
 * Whether the run kept its promises: every request answered exactly once, with its own answer, in
 * the client's and the server's books; no request of the steady load failed beyond what the faults
 * must cost (`loadErrorsAllowed`); every fault recovered from; a clean stop.
 * @param {any} r
 */
export function passed(r) {
  return r.requests.neverAnswered === 0 && loadErrorsAllowed(r) && r.requests.answeredTwice === 0 && r.requests.crossed === 0
    && r.serverSide.duplicateIds === 0 && r.serverSide.missingIds === 0 && r.serverSide.answeredTwiceLogged === 0
    && r.faults.length >= FAULT_KINDS.length && r.faults.every((/** @type {any} */ f) => f.recovered)
    && r.stop.exitCode === 0 && r.stop.survivors.length === 0 && !('none' in r.stop.byStatus);
}

/**
 * What the faults may cost the steady load: a request alone in the batch of a SIGSTOPped worker is
 * answered 504 after the response timeout (a request that ran alone past it is not retried); one
 * per SIGSTOP at most. Every other request the faults touched is retried, alone, and answered 200;
 * the poison request is the fault's own, not the load's.
 * @param {any} r
 */
export function loadErrorsAllowed(r) {
  const stops = r.faults.filter((/** @type {any} */ f) => f.kind === 'stop').length;
  const { 504: timeouts = 0, ...others } = r.requests.loadErrors;
  return Object.keys(others).length === 0 && timeouts <= stops;
}

/**
 * The server's side of exactly once: each request id the client sent is in the access log once
 * (an id logged twice was answered twice; an id the client got an answer for and the log lacks was
 * answered by something else), and the server's guard never dropped a second answer.
 * @param {{ access: string, server: string }} logs
 * @param {CountingClient} client
 */
function checkLogs(logs, client) {
  /** @type {Map<string, number>} */
  const lines = new Map();
  for (const line of logs.access.split('\n')) {
    const id = line.slice(line.lastIndexOf(' ') + 1);
    if (id.startsWith(`${client.prefix}-`)) lines.set(id, (lines.get(id) ?? 0) + 1);
  }
  let duplicateIds = 0;
  for (const n of lines.values()) if (n > 1) duplicateIds++;
  let missingIds = 0;
  for (let seq = 0; seq < client.sent; seq++) if (client.answers[seq] > 0 && !lines.has(client.id(seq))) missingIds++;
  const answeredTwiceLogged = logs.server.split('\n').filter((line) => line.includes('request answered twice')).length;
  return { accessLogIds: lines.size, duplicateIds, missingIds, answeredTwiceLogged };
}
