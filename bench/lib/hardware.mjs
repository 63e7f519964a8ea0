import { readFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

/** What the numbers were measured on; every comparison in the report states it. */
export function describeHardware() {
  const cpuList = cpus();
  let cpuModel = cpuList[0]?.model ?? 'unknown CPU';
  // os.cpus() can report only the vendor inside VMs; /proc/cpuinfo's flags tell what the CPU can do.
  let flags = '';
  try {
    const info = readFileSync('/proc/cpuinfo', 'utf8');
    flags = /^flags\s*:\s*(.*)$/m.exec(info)?.[1] ?? '';
    cpuModel = /^model name\s*:\s*(.*)$/m.exec(info)?.[1]?.trim() || cpuModel;
  } catch {
    // Not Linux: the model name from os.cpus() is all there is.
  }
  const has = (/** @type {string} */ f) => flags.split(' ').includes(f);
  return {
    cpu: cpuModel,
    cores: cpuList.length,
    simd: ['avx2', 'avx512f', 'avx512_vnni', 'amx_tile'].filter(has),
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    gpu: 'none',
    node: process.version,
    onnxruntime: /** @type {{ version: string }} */ (require('onnxruntime-node/package.json')).version,
  };
}

/** @param {ReturnType<typeof describeHardware>} h */
export function hardwareLine(h) {
  const simd = h.simd.length > 0 ? ` (${h.simd.join(', ')})` : '';
  return `${h.cores} × ${h.cpu}${simd}, ${h.memoryGiB} GiB RAM, no GPU; Node ${h.node}, onnxruntime-node ${h.onnxruntime}`;
}
