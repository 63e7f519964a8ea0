import { setTimeout as sleep } from 'node:timers/promises';
import { SERVER_SETTINGS } from './server.mjs';

/** The faults, in the order the soak injects them (round-robin when there is time for more than one round). */
export const FAULT_KINDS = /** @type {const} */ (['kill', 'stop', 'oom', 'scale', 'version']);

/** What each fault is, for the table. */
export const FAULT_NAMES = {
  kill: 'SIGKILL of a random worker',
  stop: `SIGSTOP of a random worker, past default_response_timeout (${SERVER_SETTINGS.responseTimeoutS} s)`,
  oom: 'a request whose handler runs out of memory',
  scale: `scaling the model ${SERVER_SETTINGS.workers} → ${SERVER_SETTINGS.workers + 2} → ${SERVER_SETTINGS.workers} workers`,
  version: 'registering version 2.0, requests to it, unregistering it with requests in flight',
};

/** Most requests one fault sends itself: those the version fault sends to 2.0. */
export const REQUESTS_PER_FAULT = 8;

/** How long a fault may take to be recovered from before it counts as not recovered. */
const RECOVERY_BOUND_MS = 90_000;

/**
 * @typedef {import('./server.mjs').SoakServer} SoakServer
 * @typedef {import('./client.mjs').CountingClient} CountingClient
 * @typedef {{ kind: keyof typeof FAULT_NAMES, recovered: boolean, recoveryMs: number, detail: string }} FaultResult
 */

/**
 * Injects one fault and waits, bounded, until the model is whole again: its workers all serving, as
 * many as configured, and whatever the fault asked of the API answered.
 * @param {keyof typeof FAULT_NAMES} kind
 * @param {{ server: SoakServer, client: CountingClient, phase: number }} ctx
 * @returns {Promise<FaultResult>}
 */
export async function injectFault(kind, ctx) {
  const t0 = Date.now();
  /** @type {{ ok: boolean, detail: string }} */
  let outcome;
  try {
    outcome = await FAULTS[kind](ctx);
    if (outcome.ok) outcome.ok = await whole(ctx.server, t0 + RECOVERY_BOUND_MS);
  } catch (err) {
    outcome = { ok: false, detail: `failed: ${/** @type {Error} */ (err).message}` };
  }
  return { kind, recovered: outcome.ok, recoveryMs: Date.now() - t0, detail: outcome.detail };
}

/** @type {Record<keyof typeof FAULT_NAMES, (ctx: { server: SoakServer, client: CountingClient, phase: number }) => Promise<{ ok: boolean, detail: string }>>} */
const FAULTS = {
  async kill({ server }) {
    const pid = await randomWorker(server);
    process.kill(pid, 'SIGKILL');
    return { ok: await gone(server, pid, Date.now() + RECOVERY_BOUND_MS), detail: `pid ${pid}` };
  },

  async stop({ server }) {
    const pid = await randomWorker(server);
    process.kill(pid, 'SIGSTOP');
    // The server must notice on its own: the next batch it hands the stopped worker times out and the
    // worker is killed. If it never does, the worker is let go, and the fault counts as not recovered.
    const noticed = await gone(server, pid, Date.now() + SERVER_SETTINGS.responseTimeoutS * 1000 + 30_000);
    if (!noticed) process.kill(pid, 'SIGCONT');
    return { ok: noticed, detail: noticed ? `pid ${pid}, killed by the server` : `pid ${pid} was never timed out` };
  },

  async oom({ client, phase }) {
    const { status, json } = await client.send({ path: '/predictions/soak', body: 'poison-oom', phase, fault: true });
    const ok = status === 500 && json?.type === 'WorkerDied';
    return { ok, detail: `answered ${status ?? 'never'} ${json?.type ?? ''}`.trim() };
  },

  async scale({ server }) {
    const up = await server.manage('PUT', `/models/soak/1.0?min_worker=${SERVER_SETTINGS.workers + 2}&synchronous=true`);
    await sleep(2000);
    const down = await server.manage('PUT', `/models/soak/1.0?min_worker=${SERVER_SETTINGS.workers}&synchronous=true`);
    return { ok: up.status === 200 && down.status === 200, detail: `up ${up.status}, down ${down.status}` };
  },

  async version({ server, client, phase }) {
    const registered = await server.manage('POST', '/models?url=soak-2.0.mar&initial_workers=1&synchronous=true');
    await server.workers('2.0');
    const inFlight = Array.from({ length: REQUESTS_PER_FAULT }, () => client.send({ path: '/predictions/soak/2.0', query: '?ms=200', body: 'v2', phase, fault: true }));
    await sleep(50);
    const removed = await server.manage('DELETE', '/models/soak/2.0');
    const answers = await Promise.all(inFlight);
    const statuses = answers.map((a) => a.status ?? 'none');
    const ok = registered.status === 200 && removed.status === 200 && answers.every((a) => a.status !== undefined);
    return { ok, detail: `register ${registered.status}, unregister ${removed.status}, in flight: ${statuses.join(' ')}` };
  },
};

/**
 * The pid of a random serving worker of 1.0.
 * @param {SoakServer} server
 */
async function randomWorker(server) {
  const serving = ((await server.workers()) ?? []).filter((w) => w.pid !== null && (w.status === 'READY' || w.status === 'BUSY'));
  if (serving.length === 0) throw new Error('no serving worker');
  return /** @type {number} */ (serving[Math.floor(Math.random() * serving.length)].pid);
}

/**
 * Waits until `pid` is no longer among the model's workers.
 * @param {SoakServer} server
 * @param {number} pid
 * @param {number} deadline
 */
async function gone(server, pid, deadline) {
  while (Date.now() < deadline) {
    if (!((await server.workers()) ?? []).some((w) => w.pid === pid)) return true;
    await sleep(100);
  }
  return false;
}

/**
 * Waits until the model has its configured workers, all serving.
 * @param {SoakServer} server
 * @param {number} deadline
 */
async function whole(server, deadline) {
  while (Date.now() < deadline) {
    const workers = (await server.workers()) ?? [];
    if (workers.length === SERVER_SETTINGS.workers && workers.every((w) => w.status === 'READY' || w.status === 'BUSY')) return true;
    await sleep(100);
  }
  return false;
}
