import { performance } from 'node:perf_hooks';

/** What a request's life is filed under: the phase of the soak it started in. */
export const PHASES = /** @type {const} */ (['before', 'during', 'after', 'stop']);

/**
 * The soak's client: every request gets the next id (`x-request-id: <prefix>-<n>`, which the server
 * echoes) and every answer is counted against its id, with its status and latency, in arrays sized
 * up front (`capacity` requests at most). An answer whose echoed id, or whose handler-reported
 * request id and body, is not the request's own is counted as crossed. A request that gets no HTTP
 * answer within `timeoutMs` (or whose connection fails) is never answered; the error is kept.
 * Node's fetch keeps connections alive.
 */
export class CountingClient {
  /**
   * @param {{ base: string, capacity: number, timeoutMs: number, prefix?: string }} options
   */
  constructor(options) {
    this.base = options.base;
    this.capacity = options.capacity;
    this.timeoutMs = options.timeoutMs;
    this.prefix = options.prefix ?? 'soak';
    /** Requests sent so far; the next one's number. */
    this.sent = 0;
    /** Answers per request: more than 1 would be a request answered twice. */
    this.answers = new Uint8Array(options.capacity);
    this.status = new Uint16Array(options.capacity);
    this.latencyMs = new Float32Array(options.capacity);
    this.phase = new Uint8Array(options.capacity);
    /** 1 for the requests a fault sent (the poison, those to version 2.0), 0 for the steady load's. */
    this.fromFault = new Uint8Array(options.capacity);
    /** Answers that belong to another request (echoed id, or the handler's request id or body). */
    this.crossed = 0;
    /** @type {Map<number, string>} why a request got no answer, by its number */
    this.failures = new Map();
    /** Requests sent and not yet answered or failed. */
    this.inFlight = 0;
  }

  /** @param {number} seq */
  id(seq) {
    return `${this.prefix}-${seq}`;
  }

  /**
   * Sends one request and records what comes back; never throws for the server's doing.
   * @param {{ path: string, body: string, phase: number, query?: string, fault?: boolean }} r
   * @returns {Promise<{ seq: number, status?: number, json?: any }>}
   */
  async send(r) {
    const seq = this.sent++;
    if (seq >= this.capacity) throw new Error(`the soak's client holds at most ${this.capacity} requests`);
    const id = this.id(seq);
    this.phase[seq] = r.phase;
    this.fromFault[seq] = r.fault === true ? 1 : 0;
    this.inFlight++;
    const t0 = performance.now();
    try {
      const res = await fetch(`${this.base}${r.path}${r.query ?? ''}`, {
        method: 'POST',
        body: r.body,
        headers: { 'x-request-id': id, 'content-type': 'text/plain' },
        signal: AbortSignal.timeout(this.timeoutMs),
      });
      const text = await res.text();
      this.latencyMs[seq] = performance.now() - t0;
      this.answers[seq]++;
      this.status[seq] = res.status;
      let json;
      try {
        json = JSON.parse(text);
      } catch {
        json = undefined;
      }
      const own = res.headers.get('x-request-id') === id && (res.status !== 200 || (json?.requestId === id && json?.body === r.body));
      if (!own) this.crossed++;
      return { seq, status: res.status, json };
    } catch (err) {
      const error = /** @type {Error & { cause?: { code?: string, message?: string } }} */ (err);
      this.failures.set(seq, error.name === 'TimeoutError' ? `no answer within ${this.timeoutMs / 1000} s` : (error.cause?.code ?? error.cause?.message ?? error.message));
      return { seq };
    } finally {
      this.inFlight--;
    }
  }

  /**
   * The counts the soak's table reports.
   */
  summary() {
    /** @type {Record<string, number>} */
    const byStatus = {};
    /** @type {Record<string, number>} the steady load's answers other than 200 */
    const loadErrors = {};
    let twice = 0;
    let never = 0;
    for (let seq = 0; seq < this.sent; seq++) {
      const status = this.status[seq];
      if (this.answers[seq] === 0) never++;
      else byStatus[status] = (byStatus[status] ?? 0) + 1;
      if (this.answers[seq] > 0 && status !== 200 && this.fromFault[seq] === 0) loadErrors[status] = (loadErrors[status] ?? 0) + 1;
      if (this.answers[seq] > 1) twice++;
    }
    /** @type {Record<string, number>} */
    const failureKinds = {};
    for (const why of this.failures.values()) failureKinds[why] = (failureKinds[why] ?? 0) + 1;
    return { sent: this.sent, byStatus, loadErrors, answeredTwice: twice, neverAnswered: never, crossed: this.crossed, failureKinds };
  }

  /**
   * Latency percentiles (ms) of the answered requests that started in `phase`.
   * @param {number} phase
   * @param {number[]} percentiles
   */
  percentiles(phase, percentiles) {
    /** @type {number[]} */
    const values = [];
    for (let seq = 0; seq < this.sent; seq++) if (this.phase[seq] === phase && this.answers[seq] > 0) values.push(this.latencyMs[seq]);
    values.sort((a, b) => a - b);
    return {
      count: values.length,
      values: percentiles.map((p) => (values.length === 0 ? NaN : values[Math.max(0, Math.min(values.length - 1, Math.ceil((p / 100) * values.length) - 1))])),
    };
  }
}
