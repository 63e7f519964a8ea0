import { open } from 'node:fs/promises';
import { extname } from 'node:path';
import { deflateRawSync } from 'node:zlib';

/** Weights and already-compressed media: deflating them costs seconds and saves a few percent. */
const STORED_EXTENSIONS = new Set([
  '.onnx', '.ort', '.bin', '.pt', '.pth', '.safetensors', '.params', '.pb', '.tflite', '.npy', '.npz',
  '.gz', '.tgz', '.zip', '.mar', '.jpg', '.jpeg', '.png', '.gif', '.webp',
]);
const SAMPLE_FROM_BYTES = 1024 * 1024;
const SAMPLE_BYTES = 256 * 1024;
/** Deflate must save at least this share of a sample to be worth its time on a large file. */
const MIN_SAVING = 0.1;

/** Whether a file goes into a zip uncompressed: known weight formats, and large files whose first 256 KiB barely deflate. */
export async function shouldStore(file: string, size: number): Promise<boolean> {
  if (STORED_EXTENSIONS.has(extname(file).toLowerCase())) return true;
  if (size < SAMPLE_FROM_BYTES) return false;
  const fh = await open(file, 'r');
  try {
    const sample = Buffer.alloc(SAMPLE_BYTES);
    const { bytesRead } = await fh.read(sample, 0, SAMPLE_BYTES, 0);
    const deflated = deflateRawSync(sample.subarray(0, bytesRead), { level: 1 });
    return deflated.length > bytesRead * (1 - MIN_SAVING);
  } finally {
    await fh.close();
  }
}
