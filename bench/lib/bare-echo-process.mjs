import { spawn } from 'node:child_process';
import { killAll } from '../../scripts/demo/processes.mjs';

/** Starts bench/lib/bare-echo.mjs as its own process and resolves with the port it bound. */
export function startBareEcho() {
  const child = spawn(process.execPath, [new URL('./bare-echo.mjs', import.meta.url).pathname], { stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((resolve, reject) => {
    let out = '';
    child.once('error', reject);
    child.once('exit', (code) => reject(new Error(`bare echo server exited with ${code}`)));
    child.stdout.on('data', (d) => {
      out += d;
      const port = Number(out.split('\n')[0]);
      if (out.includes('\n') && port > 0) {
        resolve({ port, pid: /** @type {number} */ (child.pid), stop: () => killAll(child.pid === undefined ? [] : [child.pid]) });
      }
    });
  });
}
