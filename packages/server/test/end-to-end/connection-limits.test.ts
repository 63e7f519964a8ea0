import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { ARCHIVER_CLI, FIXTURES, type ModelServer, ROOT, startModelServer } from '../../../../test/support/model-server.js';
import { openConnections, RawConnection, rawRequest } from '../../../../test/support/raw-http.js';

/**
 * The connection limits against a real `model-server` on 127.0.0.1, with real sockets: clients that
 * trickle or stall their headers and bodies, idle kept-alive connections, more connections than
 * allowed, pipelined requests and oversized headers. Each limit is tested at its boundary.
 */

/** Archives the fixture handler (echoes the body; "slow" waits `?ms=`) as `echo.mar` in the store. */
function archiveEcho(store: string): void {
  const args = ['--model-name', 'echo', '--handler', join(FIXTURES, 'misbehaving.mjs'), '--export-path', store, '--force'];
  const result = spawnSync(process.execPath, [ARCHIVER_CLI, ...args], { cwd: ROOT, encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`model-archiver failed: ${result.stderr}`);
}

const echo = (body: string, query = '', headers: Record<string, string> = {}) => rawRequest('POST', `/predictions/echo${query}`, { body, headers });
/** A request the fixture answers `ms` milliseconds late, named by its request id (which the answer carries). */
const slow = (id: string, ms: number) => echo('slow', `?ms=${ms}`, { 'x-request-id': id });
const ids = (answers: Array<{ headers: Record<string, string> }>) => answers.map((a) => a.headers['x-request-id']);

/**
 * Timers run on a busy machine: an answer expected at a deadline may come this much later (the
 * server checks header deadlines every tenth of the timeout, and both processes share two cores).
 */
const LATE_MS = 2_000;

describe('timeouts', () => {
  const HEADER_TIMEOUT_S = 1.5;
  const BODY_TIMEOUT_S = 1.5;
  const KEEP_ALIVE_S = 1;
  let server: ModelServer;

  beforeAll(async () => {
    server = await startModelServer({
      config: { request_header_timeout: HEADER_TIMEOUT_S, request_body_timeout: BODY_TIMEOUT_S, keep_alive_timeout: KEEP_ALIVE_S },
      prepare: async (store) => archiveEcho(store),
      models: ['echo.mar'],
    });
  }, 60_000);
  afterAll(() => server?.stop());

  it('answers headers that arrive in pieces within request_header_timeout', async () => {
    const client = new RawConnection(server.inference);
    await client.trickle(echo('in pieces'), 6, HEADER_TIMEOUT_S * 1000 * 0.4);
    const [answer] = await client.waitForAnswers(1);
    expect(answer).toMatchObject({ status: 200 });
    expect(JSON.parse(answer?.body ?? '')).toMatchObject({ echo: 'in pieces' });
    client.destroy();
  });

  it('answers 408 RequestTimeout and closes a connection whose headers stall past request_header_timeout', async () => {
    const stalled = new RawConnection(server.inference);
    const silent = new RawConnection(server.inference);
    await stalled.send('POST /predictions/echo HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Len');
    await silent.connected;
    for (const client of [stalled, silent]) {
      const closedAfter = await client.waitForClose(HEADER_TIMEOUT_S * 1000 + LATE_MS);
      expect(closedAfter).toBeGreaterThanOrEqual(HEADER_TIMEOUT_S * 1000 - 10);
      const [answer] = client.answers();
      expect(answer).toMatchObject({ status: 408, headers: { connection: 'close', 'content-type': 'application/json' } });
      expect(JSON.parse(answer?.body ?? '')).toMatchObject({ code: 408, type: 'RequestTimeout' });
      expect(answer?.body).toContain('request_header_timeout');
    }
  });

  it('answers a body that trickles in within request_body_timeout', async () => {
    const client = new RawConnection(server.inference);
    await client.send(echo('x'.repeat(12)).replace(/x{12}$/, ''));
    await client.trickle('x'.repeat(12), 6, BODY_TIMEOUT_S * 1000 * 0.4);
    const [answer] = await client.waitForAnswers(1);
    expect(answer).toMatchObject({ status: 200 });
    expect(JSON.parse(answer?.body ?? '')).toMatchObject({ echo: 'x'.repeat(12) });
    client.destroy();
  });

  it('answers 408 RequestTimeout and closes the connection when the body stalls past request_body_timeout', async () => {
    const client = new RawConnection(server.inference);
    await client.send(rawRequest('POST', '/predictions/echo', { headers: { 'content-length': '100' } }) + 'only part of it');
    const sentAt = Date.now();
    const closedAfter = await client.waitForClose(BODY_TIMEOUT_S * 1000 + LATE_MS);
    expect(closedAfter).toBeDefined();
    expect(Date.now() - sentAt).toBeGreaterThanOrEqual(BODY_TIMEOUT_S * 1000 - 10);
    const [answer] = client.answers();
    expect(answer).toMatchObject({ status: 408, headers: { connection: 'close' } });
    expect(JSON.parse(answer?.body ?? '')).toMatchObject({ code: 408, type: 'RequestTimeout' });
    expect(answer?.body).toContain('request_body_timeout');
  });

  it('keeps an idle connection for keep_alive_timeout, advertised in Keep-Alive, then closes it', async () => {
    const client = new RawConnection(server.inference);
    await client.send(rawRequest('GET', '/ping'));
    const [first] = await client.waitForAnswers(1);
    expect(first?.headers['keep-alive']).toBe(`timeout=${KEEP_ALIVE_S}`);
    await sleep(KEEP_ALIVE_S * 1000 * 0.5);
    await client.send(rawRequest('GET', '/ping'));
    expect((await client.waitForAnswers(2)).map((a) => a.status)).toEqual([200, 200]);
    const idleFrom = Date.now();
    // Node adds one second to the advertised timeout, so a client honouring it always closes first.
    expect(await client.waitForClose(KEEP_ALIVE_S * 1000 + 1_000 + LATE_MS)).toBeDefined();
    expect(Date.now() - idleFrom).toBeGreaterThanOrEqual(KEEP_ALIVE_S * 1000 - 10);
    expect(client.answers()).toHaveLength(2);
  });

  it('closes many idle kept-alive connections and many slowloris clients on time, while serving others', async () => {
    const idle = await openConnections(server.inference, 40);
    await Promise.all(idle.map((c) => c.send(rawRequest('GET', '/ping'))));
    await Promise.all(idle.map((c) => c.waitForAnswers(1)));
    const slowHeaders = await openConnections(server.inference, 20);
    const slowBodies = await openConnections(server.inference, 20);
    const trickling = [
      ...slowHeaders.map((c) => c.trickle(echo('never finished').slice(0, 60), 60, 6_000).catch(() => undefined)),
      ...slowBodies.map(async (c) => {
        await c.send(rawRequest('POST', '/predictions/echo', { headers: { 'content-length': '1000' } }));
        await c.trickle('y'.repeat(60), 60, 6_000).catch(() => undefined);
      }),
    ];
    // A well-behaved client is served at once meanwhile.
    const started = Date.now();
    const ping = await fetch(`${server.inference}/ping`);
    expect(ping.status).toBe(200);
    expect(Date.now() - started).toBeLessThan(1_000);

    const deadline = Math.max(HEADER_TIMEOUT_S, BODY_TIMEOUT_S, KEEP_ALIVE_S + 1) * 1000 + LATE_MS;
    const closed = await Promise.all([...idle, ...slowHeaders, ...slowBodies].map((c) => c.waitForClose(deadline)));
    expect(closed.every((ms) => ms !== undefined)).toBe(true);
    for (const c of slowHeaders) expect(c.answers().map((a) => a.status)).toEqual([408]);
    for (const c of slowBodies) expect(c.answers().map((a) => a.status)).toEqual([408]);
    for (const c of idle) expect(c.answers().map((a) => a.status)).toEqual([200]);
    await Promise.all(trickling);
  });
});

describe('connection counts, pipelining, body bytes and header size', () => {
  const MAX_CONNECTIONS = 4;
  const MAX_PIPELINED = 3;
  const MAX_HEADER_SIZE = 2048;
  const MAX_BYTES_IN_FLIGHT = 1000;
  let server: ModelServer;

  beforeAll(async () => {
    server = await startModelServer({
      config: {
        max_connections: MAX_CONNECTIONS,
        max_pipelined_requests: MAX_PIPELINED,
        max_header_size: MAX_HEADER_SIZE,
        max_request_size: MAX_BYTES_IN_FLIGHT,
        max_request_bytes_in_flight: MAX_BYTES_IN_FLIGHT,
      },
      prepare: async (store) => archiveEcho(store),
      models: ['echo.mar'],
    });
  }, 60_000);
  afterAll(() => server?.stop());
  // Tests here end their connections politely (`end()`: FIN, then the server's close) rather than
  // destroying them: a destroyed one is released by the server a moment later, and the next test's
  // connection would meet max_connections.

  /** Opens `count` connections to `base`, each answered once on `path` (so the server holds them all). */
  async function hold(base: string, path: string, count: number): Promise<RawConnection[]> {
    const held = await openConnections(base, count);
    await Promise.all(held.map((c) => c.send(rawRequest('GET', path))));
    const answers = await Promise.all(held.map((c) => c.waitForAnswers(1)));
    expect(answers.map((a) => a[0]?.status)).toEqual(Array(count).fill(200));
    return held;
  }

  it('serves max_connections connections on each listener and answers one more 503 TooManyConnections', async () => {
    for (const [base, path] of [[server.inference, '/ping'], [server.management, '/models'], [server.metrics, '/metrics']] as const) {
      const held = await hold(base, path, MAX_CONNECTIONS);
      const over = new RawConnection(base);
      await over.send(rawRequest('GET', path)).catch(() => undefined);
      expect(await over.waitForClose(5_000)).toBeDefined();
      const [answer] = over.answers();
      expect(answer).toMatchObject({ status: 503, headers: { 'retry-after': '1', connection: 'close' } });
      expect(JSON.parse(answer?.body ?? '')).toMatchObject({ code: 503, type: 'TooManyConnections' });

      // Once one closes, a new connection is served again.
      held[0]?.destroy();
      let again: number | undefined;
      for (let attempt = 0; attempt < 50 && again !== 200; attempt++) {
        const next = new RawConnection(base);
        await next.send(rawRequest('GET', path)).catch(() => undefined);
        again = (await next.waitForAnswers(1, 2_000))[0]?.status;
        await next.end();
        if (again !== 200) await sleep(50);
      }
      expect(again).toBe(200);
      await Promise.all(held.map((c) => c.end()));
      await sleep(100);
    }
  });

  it('answers max_pipelined_requests pipelined requests in order, one at a time', async () => {
    const pipelining = new RawConnection(server.inference);
    await pipelining.send(['p1', 'p2', 'p3'].map((id) => slow(id, 400)).join(''));
    // Sent while the pipeline waits: a pipelining client has only one request in the model's queue,
    // so this one is answered before the pipeline's second.
    await sleep(100);
    const other = await fetch(`${server.inference}/predictions/echo`, { method: 'POST', body: 'other' });
    expect(other.status).toBe(200);
    expect(pipelining.answers().length).toBeLessThanOrEqual(1);
    const answers = await pipelining.waitForAnswers(MAX_PIPELINED);
    expect(answers.map((a) => a.status)).toEqual([200, 200, 200]);
    expect(ids(answers)).toEqual(['p1', 'p2', 'p3']);
    expect(pipelining.isClosed).toBe(false);
    await pipelining.end();
  });

  it('answers one request more than max_pipelined_requests 429 TooManyPipelinedRequests, after the others, and closes', async () => {
    const pipelining = new RawConnection(server.inference);
    await pipelining.send(['q1', 'q2', 'q3', 'q4'].map((id) => slow(id, 100)).join(''));
    expect(await pipelining.waitForClose(10_000)).toBeDefined();
    const answers = pipelining.answers();
    expect(answers.map((a) => a.status)).toEqual([200, 200, 200, 429]);
    expect(ids(answers.slice(0, 3))).toEqual(['q1', 'q2', 'q3']);
    expect(answers[3]?.headers.connection).toBe('close');
    expect(JSON.parse(answers[3]?.body ?? '')).toMatchObject({ code: 429, type: 'TooManyPipelinedRequests' });
  });

  it('takes bodies up to max_request_bytes_in_flight at once and answers one byte more 503 TooManyRequestBytes, unread', async () => {
    // 600 bytes in flight while this body is still arriving.
    const receiving = new RawConnection(server.inference);
    await receiving.send(rawRequest('POST', '/predictions/echo', { headers: { 'content-length': '600' } }) + 'a'.repeat(100));
    await sleep(200);

    const atLimit = new RawConnection(server.inference);
    await atLimit.send(echo('b'.repeat(400)));
    const [taken] = await atLimit.waitForAnswers(1);
    expect(taken?.status).toBe(200);
    expect(JSON.parse(taken?.body ?? '')).toMatchObject({ echo: 'b'.repeat(400) });

    const over = new RawConnection(server.inference);
    await over.send(echo('c'.repeat(401)));
    const [refused] = await over.waitForAnswers(1);
    expect(refused).toMatchObject({ status: 503, headers: { 'retry-after': '1' } });
    expect(JSON.parse(refused?.body ?? '')).toMatchObject({ code: 503, type: 'TooManyRequestBytes' });
    // Its body was read and discarded: the connection goes on.
    await over.send(rawRequest('GET', '/ping'));
    expect((await over.waitForAnswers(2))[1]?.status).toBe(200);

    await receiving.send('a'.repeat(500));
    const [finished] = await receiving.waitForAnswers(1);
    expect(finished?.status).toBe(200);
    expect(JSON.parse(finished?.body ?? '')).toMatchObject({ echo: 'a'.repeat(600) });
    await Promise.all([receiving, atLimit, over].map((c) => c.end()));
  });

  it('takes headers of max_header_size bytes and answers one byte more 431 RequestHeadersTooLarge', async () => {
    // Counted as Node counts them: the request target, header names and values, without separators.
    const headWith = (bytes: number) => {
      const fixed = '/ping'.length + 'host'.length + '127.0.0.1'.length + 'x-pad'.length;
      return rawRequest('GET', '/ping', { headers: { 'x-pad': 'p'.repeat(bytes - fixed) } });
    };
    const atLimit = new RawConnection(server.inference);
    await atLimit.send(headWith(MAX_HEADER_SIZE));
    expect((await atLimit.waitForAnswers(1))[0]?.status).toBe(200);
    await atLimit.end();

    const over = new RawConnection(server.inference);
    await over.send(headWith(MAX_HEADER_SIZE + 1));
    expect(await over.waitForClose(5_000)).toBeDefined();
    const [answer] = over.answers();
    expect(answer).toMatchObject({ status: 431, headers: { connection: 'close' } });
    expect(JSON.parse(answer?.body ?? '')).toMatchObject({ code: 431, type: 'RequestHeadersTooLarge' });
  });

  it('answers what is not HTTP 400 BadRequest in the catalogue shape', async () => {
    const client = new RawConnection(server.inference);
    await client.send('NOT HTTP AT ALL\r\n\r\n');
    expect(await client.waitForClose(5_000)).toBeDefined();
    const [answer] = client.answers();
    expect(answer).toMatchObject({ status: 400 });
    expect(JSON.parse(answer?.body ?? '')).toMatchObject({ code: 400, type: 'BadRequest' });
  });
});
