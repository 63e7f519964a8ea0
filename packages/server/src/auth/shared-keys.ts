import { readFile, stat } from 'node:fs/promises';
import { z } from 'zod';
import { ServerConfigInvalid } from '../errors.js';
import type { ApiKeys } from './keys.js';

/** A key file is a few hundred bytes; anything larger was not written as one. */
const MAX_SHARED_KEY_FILE_BYTES = 64 * 1024;

/**
 * At least 32 characters (`openssl rand -base64 32` gives 44, our generated keys 43), and what a
 * `Bearer` header can carry: no whitespace, at most 512 characters.
 */
const key = z
  .string()
  .regex(/^\S+$/, 'must not contain whitespace')
  .min(32, 'must be at least 32 characters (openssl rand -base64 32 makes one)')
  .max(512, 'must be at most 512 characters');

/** `key_file`'s shape: `{"inference": KEY, "management": KEY}`. */
const SharedKeysSchema = z.object({ inference: key, management: key });

/**
 * Reads the keys every replica shares from `shared_key_file` (a mounted Secret). Any problem is a
 * `ServerConfigInvalid` naming the file and the field, so a pod with a wrong Secret fails to start rather
 * than serving with keys nobody holds.
 */
export async function readSharedKeys(file: string): Promise<ApiKeys> {
  let text: string;
  try {
    const info = await stat(file);
    if (!info.isFile()) throw new ServerConfigInvalid(`shared_key_file ${file} is not a regular file`);
    if (info.size > MAX_SHARED_KEY_FILE_BYTES) throw new ServerConfigInvalid(`shared_key_file ${file} is larger than ${MAX_SHARED_KEY_FILE_BYTES} bytes`);
    text = await readFile(file, 'utf8');
  } catch (error) {
    if (error instanceof ServerConfigInvalid) throw error;
    throw new ServerConfigInvalid(`Cannot read shared_key_file ${file}: ${(error as Error).message}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new ServerConfigInvalid(`shared_key_file ${file} is not JSON like {"inference": "<key>", "management": "<key>"}`);
  }
  const parsed = SharedKeysSchema.safeParse(json);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => `${issue.path.join('.') || '(file)'}: ${issue.message}`).join('; ');
    throw new ServerConfigInvalid(`shared_key_file ${file}: ${problems}`);
  }
  return { inference: parsed.data.inference, management: parsed.data.management };
}
