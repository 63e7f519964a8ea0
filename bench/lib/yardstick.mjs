import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';

/**
 * The peers' worker path as a same-run yardstick: `../shared/peer-pipeline/run.py` (PIL decode, resize,
 * crop, numpy normalise, onnxruntime, in a pool of Python processes; what one MMS or TorchServe worker
 * does per image, with no server around it). MMS's whole server reached 0.82–0.92 of it and
 * TorchServe's 0.69–0.78 (its README), so our figure ÷ its figure from the same run says where we
 * stand against them on this machine.
 *
 * Python's packages live in a virtual environment outside the repository, made once per Python and
 * ONNX Runtime version under the user's cache directory; pip installs from whatever package index the
 * machine is configured for. When Python, venv or a package is missing, every call says why instead
 * of returning a figure: the bench never invents or reuses one.
 */

/** The venv holding the yardstick's packages: `$XDG_CACHE_HOME/nodeserve/peer-yardstick/…`, else `~/.cache/…`. */
export function yardstickVenvDir(/** @type {string} */ tag) {
  const cache = process.env.XDG_CACHE_HOME || join(homedir(), '.cache');
  return join(cache, 'nodeserve', 'peer-yardstick', tag);
}

/**
 * @typedef {{ ok: true, python: string, versions: Record<string, string>, venv: string } | { ok: false, reason: string }} YardstickEnv
 */

/**
 * Finds python3 and makes (once) the venv with pillow, numpy and the onnxruntime of the same version
 * as onnxruntime-node, so both sides run the same kernels.
 * @param {{ peerDir: string, onnxruntimeVersion: string, log: (line: string) => void, python?: string }} o
 * @returns {Promise<YardstickEnv>}
 */
export async function prepareYardstick(o) {
  if (!existsSync(join(o.peerDir, 'run.py'))) return { ok: false, reason: `${o.peerDir}/run.py not found` };
  const python = o.python ?? process.env.NODESERVE_BENCH_PYTHON ?? 'python3';
  const probe = spawnSync(python, ['-c', 'import sys, venv; print("%d.%d" % sys.version_info[:2])'], { encoding: 'utf8' });
  if (probe.error || probe.status !== 0) {
    const why = probe.error ? `${python} not found` : `${python} has no venv module (${lastLine(probe.stderr)})`;
    return { ok: false, reason: `${why}: install Python 3 with venv (apt-get install python3-venv)` };
  }
  const pyVersion = probe.stdout.trim();
  const venv = yardstickVenvDir(`py${pyVersion}-ort${o.onnxruntimeVersion}`);
  const venvPython = join(venv, 'bin', 'python');
  const stamp = join(venv, 'nodeserve-yardstick.json');
  if (!existsSync(stamp)) {
    o.log(`    yardstick: creating ${venv} (pillow, numpy, onnxruntime==${o.onnxruntimeVersion}), once`);
    rmSync(venv, { recursive: true, force: true });
    mkdirSync(venv, { recursive: true });
    const made = await run(python, ['-m', 'venv', venv]);
    if (made.code !== 0) return { ok: false, reason: `python3 -m venv failed: ${lastLine(made.output)} (apt-get install python3-venv)` };
    const pip = await run(venvPython, ['-m', 'pip', 'install', '--quiet', 'pillow', 'numpy', `onnxruntime==${o.onnxruntimeVersion}`]);
    if (pip.code !== 0) {
      rmSync(venv, { recursive: true, force: true });
      return { ok: false, reason: `pip install pillow numpy onnxruntime==${o.onnxruntimeVersion} failed: ${lastLine(pip.output)}` };
    }
  }
  const check = spawnSync(venvPython, ['-c', 'import json, PIL, numpy, onnxruntime; print(json.dumps({"python": "%d.%d.%d" % __import__("sys").version_info[:3], "pillow": PIL.__version__, "numpy": numpy.__version__, "onnxruntime": onnxruntime.__version__}))'], { encoding: 'utf8' });
  if (check.status !== 0) {
    rmSync(venv, { recursive: true, force: true });
    return { ok: false, reason: `the yardstick's venv ${venv} cannot import its packages (${lastLine(check.stderr)}); removed, the next run makes it again` };
  }
  const versions = JSON.parse(check.stdout);
  if (!existsSync(stamp)) writeFileSync(stamp, `${JSON.stringify(versions)}\n`);
  return { ok: true, python: venvPython, versions, venv };
}

/**
 * One run of the yardstick: `procs` processes × `threads` ONNX Runtime threads, each image decoded and
 * preprocessed as the peers' handler does (`mode: 'pipeline'`) or inference alone (`'ort'`), for
 * `seconds`. Resolves with run.py's JSON line, or `{ ok: false, reason }`.
 * @param {YardstickEnv} env
 * @param {{ peerDir: string, model: string, labels?: string, image: string, procs: number, threads: number, batch?: number, seconds: number, mode?: 'pipeline' | 'ort' }} o
 */
export async function runYardstick(env, o) {
  if (!env.ok) return { ok: false, reason: env.reason };
  const args = [join(o.peerDir, 'run.py'), '--model', o.model, '--image', o.image, '--procs', String(o.procs), '--threads', String(o.threads),
    '--batch', String(o.batch ?? 1), '--seconds', String(o.seconds), '--mode', o.mode ?? 'pipeline'];
  if (o.labels) args.push('--labels', o.labels);
  const r = await run(env.python, args, o.peerDir);
  const line = r.output.split('\n').reverse().find((l) => l.startsWith('{'));
  if (r.code !== 0 || line === undefined) return { ok: false, reason: `run.py exited with ${r.code}: ${lastLine(r.output)}` };
  return { ok: true, ...JSON.parse(line) };
}

/** @param {string} text */
function lastLine(text) {
  return (text ?? '').trim().split('\n').filter(Boolean).pop()?.slice(0, 300) ?? '';
}

/**
 * @param {string} cmd
 * @param {string[]} args
 * @param {string} [cwd]
 * @returns {Promise<{ code: number | null, output: string }>}
 */
function run(cmd, args, cwd) {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d) => (output += d));
    child.stderr.on('data', (d) => (output += d));
    child.on('error', (err) => resolve({ code: -1, output: `${output}\n${err.message}` }));
    child.on('close', (code) => resolve({ code, output }));
  });
}
