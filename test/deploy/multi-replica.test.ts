import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import http from 'node:http';
import { type AddressInfo, connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { ROOT, SHARED, archive, modelServer, runState, serverDir, stopAndClean, isAlive } from '../support/model-server.js';

/**
 * Three model-server replicas behind HAProxy (Debian's; `.ci/run` installs it) with the shipped
 * deploy/haproxy/haproxy.cfg, under a steady keep-alive load of real photos for the MobileNet v2
 * classifier, all on 127.0.0.1. A rolling update's SIGTERM to one replica, then a SIGKILL to another
 * that restarts and rejoins: every request sent is answered 200. Prints the figures.
 */

const CONFIG = path.join(ROOT, 'deploy/haproxy/haproxy.cfg');
const PHOTO = readFileSync(path.join(SHARED, 'images/Dog1.jpg'));
const CONCURRENCY = 6;
/** haproxy.cfg checks every 1 s, 2 failures mark DOWN, 1 s check timeout: 2 + 1 + 1 s margin. */
const SHUTDOWN_DELAY_S = 4;
const PHASE_MS = 5_000;

interface Outcome {
  start: number;
  end: number;
  status: number;
  error?: string;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as AddressInfo;
      probe.close(() => resolve(port));
    });
  });
}

/** HAProxy's `show stat` over its stats socket, as rows keyed by the CSV header. */
function haproxyStats(socket: string): Promise<Array<Record<string, string>>> {
  return new Promise((resolve, reject) => {
    let text = '';
    const client = connect(socket, () => client.write('show stat\n'));
    client.on('data', (chunk) => (text += chunk.toString()));
    client.on('error', reject);
    client.on('end', () => {
      const [header = '', ...lines] = text.trim().split('\n');
      const names = header.replace(/^# /, '').split(',');
      resolve(lines.map((line) => Object.fromEntries(line.split(',').map((value, i) => [names[i] ?? String(i), value]))));
    });
  });
}

async function serverStatus(socket: string, name: string): Promise<string> {
  const row = (await haproxyStats(socket)).find((r) => r['pxname'] === 'model_servers' && r['svname'] === name);
  return row?.['status'] ?? 'missing';
}

async function backendCounter(socket: string, field: 'wretr' | 'wredis'): Promise<number> {
  const row = (await haproxyStats(socket)).find((r) => r['pxname'] === 'model_servers' && r['svname'] === 'BACKEND');
  return Number(row?.[field] ?? 0);
}

async function waitUntil(what: string, probe: () => Promise<boolean> | boolean, timeoutMs: number): Promise<number> {
  const started = Date.now();
  while (Date.now() - started < timeoutMs) {
    if (await probe()) return Date.now();
    await sleep(50);
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
}

/** `CONCURRENCY` keep-alive clients, each sending the next request as soon as its last is answered. */
function steadyLoad(url: string) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: CONCURRENCY });
  const outcomes: Outcome[] = [];
  let running = true;
  const one = () =>
    new Promise<void>((resolve) => {
      const start = Date.now();
      const request = http.request(
        url,
        { method: 'POST', agent, headers: { 'content-type': 'image/jpeg', 'content-length': PHOTO.length }, timeout: 60_000 },
        (response) => {
          response.resume();
          response.on('end', () => {
            outcomes.push({ start, end: Date.now(), status: response.statusCode ?? 0 });
            resolve();
          });
          response.on('error', (error) => {
            outcomes.push({ start, end: Date.now(), status: 0, error: error.message });
            resolve();
          });
        },
      );
      request.on('error', (error) => {
        outcomes.push({ start, end: Date.now(), status: 0, error: error.message });
        resolve();
      });
      request.end(PHOTO);
    });
  const loops = Array.from({ length: CONCURRENCY }, async () => {
    while (running) await one();
  });
  return {
    outcomes,
    async stop() {
      running = false;
      await Promise.all(loops);
      agent.destroy();
    },
  };
}

describe('three model-server replicas behind HAProxy', () => {
  const haproxyBin = spawnSync('haproxy', ['-v']).status === 0;
  const store = mkdtempSync(path.join(tmpdir(), 'ms-lb-store-'));
  const statsSocket = path.join(mkdtempSync(path.join(tmpdir(), 'ms-lb-')), 'haproxy.sock');
  const replicas: Array<{ name: string; cwd: string; port: number; pid: number }> = [];
  let haproxy: ChildProcess | undefined;
  let haproxyLog = '';
  let frontend = '';

  const startReplica = async (replica: { cwd: string }) => {
    const started = await modelServer(replica.cwd, ['--start', '--models', 'resnet50=resnet50.mar']);
    if (started.code !== 0) throw new Error(`--start failed: ${started.stderr}`);
    return runState(replica.cwd).pid;
  };

  beforeAll(async () => {
    if (!haproxyBin) throw new Error('haproxy is not installed: apt-get install haproxy (.ci/run does)');
    const built = archive(store, [
      '--model-name', 'resnet50',
      '--version', '1.0',
      '--serialized-file', path.join(SHARED, 'models/mobilenetv2-12-int8.onnx'),
      '--handler', path.join(ROOT, 'examples/resnet50/img_classifier_service.ts'),
      '--extra-files', path.join(SHARED, 'models/index_to_name.json'),
    ]);
    for (const name of ['replica1', 'replica2', 'replica3']) {
      const port = await freePort();
      const cwd = serverDir(
        [
          `inference_address=http://127.0.0.1:${port}`,
          `model_store=${path.join(store, 'replica-' + name)}`,
          `shutdown_delay=${SHUTDOWN_DELAY_S}`,
          'default_workers_per_model=1',
        ].join('\n'),
      );
      mkdirSync(path.join(store, 'replica-' + name));
      copyFileSync(path.join(built, 'resnet50.mar'), path.join(store, 'replica-' + name, 'resnet50.mar'));
      replicas.push({ name, cwd, port, pid: 0 });
    }
    // One at a time: three cold starts at once on two cores only slow each other down.
    for (const replica of replicas) replica.pid = await startReplica(replica);

    const lbPort = await freePort();
    frontend = `http://127.0.0.1:${lbPort}`;
    haproxy = spawn('haproxy', ['-f', CONFIG, '-db'], {
      env: {
        ...process.env,
        NODESERVE_LB_BIND: `127.0.0.1:${lbPort}`,
        NODESERVE_LB_STATS: statsSocket,
        NODESERVE_REPLICA1: `127.0.0.1:${replicas[0]!.port}`,
        NODESERVE_REPLICA2: `127.0.0.1:${replicas[1]!.port}`,
        NODESERVE_REPLICA3: `127.0.0.1:${replicas[2]!.port}`,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    haproxy.stdout?.on('data', (chunk: Buffer) => (haproxyLog += chunk.toString()));
    haproxy.stderr?.on('data', (chunk: Buffer) => (haproxyLog += chunk.toString()));
    await waitUntil(
      'HAProxy to see every replica UP',
      async () => {
        try {
          const states = await Promise.all(replicas.map((r) => serverStatus(statsSocket, r.name)));
          return states.every((s) => s === 'UP');
        } catch {
          return false;
        }
      },
      20_000,
    ).catch((error: Error) => {
      throw new Error(`${error.message}\n${haproxyLog}`);
    });
  }, 120_000);

  afterAll(async () => {
    haproxy?.kill('SIGTERM');
    await Promise.all(replicas.map((r) => stopAndClean(r.cwd)));
    rmSync(store, { recursive: true, force: true });
    rmSync(path.dirname(statsSocket), { recursive: true, force: true });
  }, 120_000);

  it('answers every request 200 through a SIGTERM (rolling update) and a SIGKILL with restart, and prints the figures', async () => {
    const [rolled, killed] = [replicas[0]!, replicas[1]!];
    const load = steadyLoad(`${frontend}/predictions/resnet50`);
    const t0 = Date.now();
    const marks: Record<string, number> = {};
    const retried: Record<string, number> = {};

    await sleep(PHASE_MS);
    retried['before'] = await backendCounter(statsSocket, 'wretr');

    // A rolling update: SIGTERM, the replica leaves HAProxy while still serving, drains, exits, and
    // its successor starts in its place.
    marks['sigterm'] = Date.now();
    process.kill(rolled.pid, 'SIGTERM');
    marks['rolledDown'] = await waitUntil('HAProxy to mark the SIGTERMed replica DOWN', async () => (await serverStatus(statsSocket, rolled.name)).startsWith('DOWN'), 15_000);
    marks['rolledExited'] = await waitUntil('the SIGTERMed replica to exit', () => !isAlive(rolled.pid), 30_000);
    rolled.pid = await startReplica(rolled);
    marks['rolledUp'] = await waitUntil('the new replica to be UP in HAProxy', async () => (await serverStatus(statsSocket, rolled.name)) === 'UP', 20_000);
    retried['rolling update'] = (await backendCounter(statsSocket, 'wretr')) - retried['before'];

    // A crash: SIGKILL, with requests in flight on it, then the replica restarts and rejoins.
    marks['sigkill'] = Date.now();
    process.kill(killed.pid, 'SIGKILL');
    marks['killedDown'] = await waitUntil('HAProxy to mark the killed replica DOWN', async () => (await serverStatus(statsSocket, killed.name)).startsWith('DOWN'), 15_000);
    killed.pid = await startReplica(killed);
    marks['killedUp'] = await waitUntil('the restarted replica to be UP in HAProxy', async () => (await serverStatus(statsSocket, killed.name)) === 'UP', 20_000);
    retried['kill'] = (await backendCounter(statsSocket, 'wretr')) - retried['before'] - retried['rolling update'];
    const rejoinedTotal = Number((await haproxyStats(statsSocket)).find((r) => r['svname'] === killed.name)?.['stot'] ?? 0);

    await sleep(PHASE_MS);
    const tEnd = Date.now();
    await load.stop();
    const rejoinedServed = Number((await haproxyStats(statsSocket)).find((r) => r['svname'] === killed.name)?.['stot'] ?? 0) - rejoinedTotal;
    const redispatched = await backendCounter(statsSocket, 'wredis');

    const outcomes = load.outcomes;
    const lost = outcomes.filter((o) => o.status !== 200);
    const phase = (from: number, to: number) => {
      const done = outcomes.filter((o) => o.end >= from && o.end < to && o.status === 200).length;
      return `${done} in ${((to - from) / 1000).toFixed(1)} s = ${(done / ((to - from) / 1000)).toFixed(1)} req/s`;
    };
    const at = (ms: number) => `+${((ms - t0) / 1000).toFixed(1)} s`;
    process.stdout.write(
      [
        `3 replicas of model-server (MobileNet v2 int8, 1 worker each, shutdown_delay=${SHUTDOWN_DELAY_S}) behind HAProxy (${CONFIG.replace(ROOT + '/', '')}),`,
        `${CONCURRENCY} keep-alive clients POSTing Dog1.jpg (${PHOTO.length} bytes) for ${((tEnd - t0) / 1000).toFixed(1)} s`,
        `  requests sent ${outcomes.length}, answered 200 ${outcomes.length - lost.length}, lost ${lost.length}` +
          (lost.length > 0 ? ` (${[...new Set(lost.map((o) => o.error ?? String(o.status)))].join('; ')})` : ''),
        `  throughput before ${phase(t0, marks['sigterm']!)}`,
        `             during ${phase(marks['sigterm']!, marks['killedUp']!)} (SIGTERM, restart, SIGKILL, restart)`,
        `             after  ${phase(marks['killedUp']!, tEnd)}`,
        `  SIGTERM ${at(marks['sigterm']!)}: DOWN in HAProxy after ${marks['rolledDown']! - marks['sigterm']!} ms (listener closes at ${SHUTDOWN_DELAY_S * 1000} ms), exited after ${marks['rolledExited']! - marks['sigterm']!} ms, successor UP ${at(marks['rolledUp']!)}`,
        `  SIGKILL ${at(marks['sigkill']!)}: DOWN in HAProxy after ${marks['killedDown']! - marks['sigkill']!} ms, restarted and UP ${at(marks['killedUp']!)}, then served ${rejoinedServed} requests`,
        `  HAProxy retries (each a request that would have been lost without retry-on): rolling update ${retried['rolling update']}, SIGKILL ${retried['kill']}; redispatched ${redispatched}`,
        '',
      ].join('\n'),
    );

    expect(outcomes.length).toBeGreaterThan(0);
    expect(lost).toEqual([]);
    // The load balancer stopped sending to the SIGTERMed replica before its listener closed.
    expect(marks['rolledDown']! - marks['sigterm']!).toBeLessThan(SHUTDOWN_DELAY_S * 1000);
    // The restarted replica is back in rotation and serving.
    expect(rejoinedServed).toBeGreaterThan(0);
  }, 90_000);
});
