import { createServer } from 'node:net';
import { portOf, readRunState as readServerRunState, runPaths } from '@nodeserve/server/run-state';

/**
 * The pid and the ports a started model-server really bound (they differ from the configured ones
 * when those were 0), read from its run-state file in `cwd`'s log directory by the server's own reader.
 * @param {string} cwd
 * @returns {{ pid: number, inference: number, management: number, metrics: number | undefined } | undefined}
 */
export function readRunState(cwd) {
  const state = readServerRunState(runPaths({ cwd }));
  if (state?.addresses === undefined) return undefined;
  const { inference, management, metrics } = state.addresses;
  return { pid: state.pid, inference: portOf(inference), management: portOf(management), metrics: metrics === undefined ? undefined : portOf(metrics) };
}

/**
 * Fails with one clear line when one of the ports the server would bind is taken, instead of letting
 * the server die on EADDRINUSE after the archive was built.
 * @param {number[]} ports
 */
export async function assertPortsFree(ports) {
  for (const port of ports) {
    const free = await new Promise((resolve) => {
      const probe = createServer();
      probe.once('error', () => resolve(false));
      probe.listen(port, '127.0.0.1', () => probe.close(() => resolve(true)));
    });
    if (!free) {
      throw new Error(
        `port ${port} on 127.0.0.1 is already in use (is a model-server still running? stop it with \`model-server --stop\`), ` +
          'or run the demo on other ports: npm run demo -- --port 0',
      );
    }
  }
}

/**
 * Waits until the server in `cwd` has written its run state and answers a prediction for `model`
 * with 200, polling with the given body; returns the run state and when that first 200 came.
 * @param {{ cwd: string, model: string, body: Uint8Array, timeoutMs: number, isAborted?: () => boolean }} o
 */
export async function waitForFirstPrediction(o) {
  const deadline = Date.now() + o.timeoutMs;
  let lastError = 'no run state yet';
  while (Date.now() < deadline && !o.isAborted?.()) {
    const state = readRunState(o.cwd);
    if (state) {
      try {
        const res = await fetch(`http://127.0.0.1:${state.inference}/predictions/${o.model}`, {
          method: 'POST',
          body: o.body,
          signal: AbortSignal.timeout(Math.max(1, deadline - Date.now())),
        });
        const text = await res.text();
        if (res.status === 200) return { state, at: Date.now() };
        lastError = `${res.status} ${text.slice(0, 300)}`;
      } catch (err) {
        lastError = /** @type {Error} */ (err).message;
      }
    }
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`model-server did not answer a prediction for ${o.model} within ${o.timeoutMs} ms (last: ${lastError})`);
}
