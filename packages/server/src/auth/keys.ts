import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { chmod, mkdir, open, rename, rm } from 'node:fs/promises';
import { dirname, join, basename } from 'node:path';

/** 256 random bits per key: far beyond guessing, where TorchServe's keys hold 48. */
const KEY_BYTES = 32;

export interface ApiKeys {
  inference: string;
  management: string;
}

export function generateKey(): string {
  return randomBytes(KEY_BYTES).toString('base64url');
}

export function generateKeys(): ApiKeys {
  return { inference: generateKey(), management: generateKey() };
}

/**
 * Compares a presented key with the expected one in time independent of where they differ.
 * Hashing first gives `timingSafeEqual` equal-length inputs, so the length of the expected key
 * does not leak either.
 */
export function keysMatch(presented: string, expected: string): boolean {
  const a = createHash('sha256').update(presented).digest();
  const b = createHash('sha256').update(expected).digest();
  return timingSafeEqual(a, b);
}

/**
 * Writes the keys as `{"inference": …, "management": …}` readable by the owner only. The file is
 * created 0600 under a temporary name and renamed into place, so no other user can open it at any
 * moment, even when an older key file with looser permissions was there.
 */
export async function writeKeyFile(path: string, keys: ApiKeys): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  const handle = await open(tmp, 'wx', 0o600);
  try {
    await handle.writeFile(`${JSON.stringify(keys, null, 2)}\n`);
    // The process umask cannot widen 0600, but it could narrow it; set it exactly.
    await chmod(tmp, 0o600);
  } finally {
    await handle.close();
  }
  try {
    await rename(tmp, path);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
}

export async function removeKeyFile(path: string): Promise<void> {
  await rm(path, { force: true });
}
