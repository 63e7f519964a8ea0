import { createHash } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { pack, type Header } from 'tar-stream';
import { BUNDLE_PATH, MANIFEST_PATH, type Manifest } from '../../src/index.js';

export const HANDLER_JS = Buffer.from('export async function handle(data) { return data.map(() => "ok"); }\n');

/** A manifest that lists exactly `files`, digests computed from their bytes. */
export function manifestFor(files: Record<string, Buffer>, overrides: Partial<Manifest> = {}): Manifest {
  const digests: Manifest['files'] = {};
  for (const [path, data] of Object.entries(files)) {
    digests[path] = { size: data.length, sha256: createHash('sha256').update(data).digest('hex') };
  }
  return {
    createdOn: '01/02/2025 03:04:05',
    runtime: 'node',
    archiverVersion: '0.1.0',
    specificationVersion: '1.0',
    model: { modelName: 'crafted', modelVersion: '1.0', handler: 'handler:handle' },
    entryPoint: { bundle: BUNDLE_PATH, exportName: 'handle', source: 'handler.mjs' },
    config: {},
    files: digests,
    ...overrides,
  };
}

/** The files of a minimal valid archive, manifest included. */
export function validFiles(extra: Record<string, Buffer> = {}): Record<string, Buffer> {
  const files = { [BUNDLE_PATH]: HANDLER_JS, ...extra };
  return { [MANIFEST_PATH]: Buffer.from(JSON.stringify(manifestFor(files))), ...files };
}

export interface RawTarEntry {
  header: Header | (Partial<Header> & { name: string });
  data?: Buffer;
}

/** A gzipped tar with entries exactly as given (links, odd paths and all). */
export async function buildTgz(entries: RawTarEntry[]): Promise<Buffer> {
  const tar = pack();
  const chunks: Buffer[] = [];
  const done = new Promise<void>((resolve, reject) => {
    tar.on('data', (c: unknown) => chunks.push(c as Buffer));
    tar.on('end', () => resolve());
    tar.on('error', reject);
  });
  for (const { header, data } of entries) {
    await new Promise<void>((resolve, reject) => {
      tar.entry({ mode: 0o644, ...header }, data ?? Buffer.alloc(0), (err) => (err ? reject(err) : resolve()));
    });
  }
  tar.finalize();
  await done;
  return gzipSync(Buffer.concat(chunks));
}

export function tarFiles(root: string, files: Record<string, Buffer>): RawTarEntry[] {
  return Object.entries(files).map(([name, data]) => ({ header: { name: `${root}/${name}`, size: data.length, type: 'file' }, data }));
}

export class Scratch {
  private constructor(readonly dir: string) {}
  static async create(): Promise<Scratch> {
    return new Scratch(await mkdtemp(join(tmpdir(), 'archiver-test-')));
  }
  async write(name: string, data: Buffer): Promise<string> {
    const file = join(this.dir, name);
    await writeFile(file, data);
    return file;
  }
  path(name: string): string {
    return join(this.dir, name);
  }
  async remove(): Promise<void> {
    await rm(this.dir, { recursive: true, force: true });
  }
}
