import { createHash } from 'node:crypto';
import {
  ArchiveDigestMismatch,
  ArchiveDuplicateEntry,
  ArchiveFileMissing,
  ArchiveFileUnlisted,
  ArchiveTooLarge,
  ManifestInvalid,
  ManifestMissing,
} from '../errors.js';
import { MANIFEST_PATH, ManifestSchema, type FileDigest, type Manifest } from '../manifest/schema.js';
import type { ArchiveEntry, WalkedFile } from './entries.js';

/** A manifest lists at most `maxEntries` files; this is far above any real one and stops a JSON bomb. */
export const MAX_MANIFEST_BYTES = 4 * 1024 * 1024;

/**
 * Checks an archive's files against its manifest as they stream past: every file hashed, every
 * file listed, every listed file present. Once the manifest has been seen (archives made here put
 * it first), an unlisted or oversized file is refused before its content is consumed.
 */
export class ContentCheck {
  private manifest: Manifest | undefined;
  private readonly seen = new Map<string, FileDigest>();
  readonly entries: ArchiveEntry[] = [];

  /** Drains one file, passing its chunks to `write` (if given) after they have been checked. */
  async consume(file: WalkedFile, write?: (chunk: Buffer) => Promise<void>): Promise<void> {
    if (this.seen.has(file.path)) throw new ArchiveDuplicateEntry(file.path);
    const isManifest = file.path === MANIFEST_PATH;
    const expected = isManifest ? undefined : this.manifest?.files[file.path];
    if (this.manifest && !isManifest) {
      if (!expected) throw new ArchiveFileUnlisted(file.path);
      if (expected.size !== file.size) throw new ArchiveDigestMismatch(file.path, `size ${file.size}`);
    }
    if (isManifest && file.size > MAX_MANIFEST_BYTES) throw new ArchiveTooLarge(`${MANIFEST_PATH} is over ${MAX_MANIFEST_BYTES} bytes`);
    const hash = createHash('sha256');
    const kept: Buffer[] = [];
    let size = 0;
    for await (const chunk of file.chunks) {
      size += chunk.length;
      if (isManifest) {
        if (size > MAX_MANIFEST_BYTES) throw new ArchiveTooLarge(`${MANIFEST_PATH} is over ${MAX_MANIFEST_BYTES} bytes`);
        kept.push(chunk);
      }
      hash.update(chunk);
      if (write) await write(chunk);
    }
    const digest = { size, sha256: hash.digest('hex') };
    this.seen.set(file.path, digest);
    this.entries.push({ path: file.path, size, ...(file.compressedSize === undefined ? {} : { compressedSize: file.compressedSize }) });
    if (isManifest) {
      this.manifest = parseManifest(Buffer.concat(kept));
      for (const [path, seen] of this.seen) if (path !== MANIFEST_PATH) this.compare(path, seen);
    } else if (expected) {
      this.compare(file.path, digest);
    }
  }

  /** Called once every file has been consumed: the archive is complete and consistent. */
  finish(): Manifest {
    const manifest = this.manifest;
    if (!manifest) throw new ManifestMissing(MANIFEST_PATH);
    for (const path of Object.keys(manifest.files)) {
      if (!this.seen.has(path)) throw new ArchiveFileMissing(path, 'the manifest');
    }
    const named: [string | undefined, string][] = [
      [manifest.entryPoint.bundle, 'entryPoint.bundle'],
      [manifest.model.serializedFile, 'model.serializedFile'],
      [manifest.model.configFile, 'model.configFile'],
    ];
    for (const [path, field] of named) {
      if (path !== undefined && !this.seen.has(path)) throw new ArchiveFileMissing(path, `the manifest's ${field}`);
    }
    return manifest;
  }

  private compare(path: string, actual: FileDigest): void {
    const expected = this.manifest?.files[path];
    if (!expected) throw new ArchiveFileUnlisted(path);
    if (expected.size !== actual.size) throw new ArchiveDigestMismatch(path, `size ${actual.size}`);
    if (expected.sha256 !== actual.sha256) throw new ArchiveDigestMismatch(path, `sha256 ${actual.sha256}`);
  }
}

export function parseManifest(bytes: Buffer): Manifest {
  let json: unknown;
  try {
    json = JSON.parse(bytes.toString('utf8'));
  } catch (err) {
    throw new ManifestInvalid(`${MANIFEST_PATH} is not JSON (${(err as Error).message})`);
  }
  const parsed = ManifestSchema.safeParse(json);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.length ? i.path.join('.') : '(root)'}: ${i.message}`);
    throw new ManifestInvalid(problems.join('; '));
  }
  return parsed.data;
}
