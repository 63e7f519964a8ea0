import { link, mkdir, readdir, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { BUNDLE_PATH, MANIFEST_PATH, extractArchive, inspectArchive, type ArchiveError } from '../src/index.js';
import { buildTgz, HANDLER_JS, manifestFor, Scratch, tarFiles, validFiles } from './helpers/archives.js';
import { buildZip, type RawZipEntry } from './helpers/zip-builder.js';

let scratch: Scratch;
beforeEach(async () => {
  scratch = await Scratch.create();
});
afterEach(async () => {
  await scratch.remove();
});

function zipOf(files: Record<string, Buffer>, extra: RawZipEntry[] = []): Buffer {
  return buildZip([...Object.entries(files).map(([name, data]) => ({ name, data, deflate: true })), ...extra]);
}

async function refusal(promise: Promise<unknown>): Promise<ArchiveError> {
  const err = (await promise.then(
    () => undefined,
    (e: unknown) => e,
  )) as ArchiveError | undefined;
  if (!err) throw new Error('expected the archive to be refused');
  expect(err.status).toBe(400);
  return err;
}

describe('reading a valid archive', () => {
  it('inspects a zip: manifest parsed, every entry listed with its sizes', async () => {
    const mar = await scratch.write('ok.mar', zipOf(validFiles({ 'labels.json': Buffer.from('["cat"]') })));
    const { format, manifest, entries } = await inspectArchive(mar);
    expect(format).toBe('zip');
    expect(manifest.model.modelName).toBe('crafted');
    expect(entries.map((e) => e.path).sort()).toEqual([MANIFEST_PATH, BUNDLE_PATH, 'labels.json'].sort());
    expect(entries.find((e) => e.path === BUNDLE_PATH)?.size).toBe(HANDLER_JS.length);
  });

  it('extracts a tgz, stripping the <name>/ prefix', async () => {
    const tgz = await scratch.write('ok.tar.gz', await buildTgz(tarFiles('crafted', validFiles())));
    const { format, dir } = await extractArchive(tgz, scratch.path('out'));
    expect(format).toBe('tgz');
    expect((await readdir(join(dir, 'handler'))).sort()).toEqual(['index.mjs']);
  });

  it('detects a gzip archive by its magic bytes whatever its name', async () => {
    const file = await scratch.write('model.bin', await buildTgz(tarFiles('crafted', validFiles())));
    expect((await inspectArchive(file)).format).toBe('tgz');
  });

  it('validates a directory in place and returns it without copying', async () => {
    const dir = scratch.path('model');
    for (const [name, data] of Object.entries(validFiles())) {
      await mkdir(join(dir, name, '..'), { recursive: true });
      await writeFile(join(dir, name), data);
    }
    const { format, dir: served } = await extractArchive(dir, scratch.path('unused'));
    expect(format).toBe('directory');
    expect(served).toBe(dir);
    await expect(readdir(scratch.path('unused'))).rejects.toThrow();
  });

  it('refuses to extract into a directory that is not empty', async () => {
    const mar = await scratch.write('ok.mar', zipOf(validFiles()));
    await mkdir(scratch.path('busy'));
    await writeFile(scratch.path('busy/x'), 'x');
    expect((await refusal(extractArchive(mar, scratch.path('busy')))).code).toBe('ArchiveDestination');
  });
});

describe('zip-slip and links', () => {
  it.each([
    ['../evil.txt', 'contains ".."'],
    ['handler/../../evil.txt', 'contains ".."'],
    ['/etc/evil', 'absolute path'],
    ['C:/evil', 'absolute path'],
    ['a\\..\\evil', 'backslash'],
  ])('refuses a zip entry named %s', async (name, why) => {
    const mar = await scratch.write('slip.mar', zipOf(validFiles(), [{ name, data: Buffer.from('x') }]));
    const err = await refusal(extractArchive(mar, scratch.path('out')));
    expect(err.code).toBe('ArchiveUnsafePath');
    expect(err.message).toContain(why);
    await expect(readdir(scratch.path('out'))).rejects.toThrow();
    expect(await readdir(scratch.dir)).toEqual(['slip.mar']);
  });

  it('refuses a tgz entry that climbs out with ..', async () => {
    const tgz = await scratch.write('slip.tgz', await buildTgz([...tarFiles('crafted', validFiles()), { header: { name: 'crafted/../../evil', size: 1, type: 'file' }, data: Buffer.from('x') }]));
    expect((await refusal(inspectArchive(tgz))).code).toBe('ArchiveUnsafePath');
  });

  it('refuses a tgz whose entries are not under one top-level directory', async () => {
    const tgz = await scratch.write('two.tgz', await buildTgz([...tarFiles('crafted', validFiles()), ...tarFiles('other', { x: Buffer.from('x') })]));
    const err = await refusal(inspectArchive(tgz));
    expect(err.code).toBe('ArchiveUnsafePath');
    expect(err.message).toContain('other/x');
  });

  it('refuses a zip entry whose attributes mark a symbolic link', async () => {
    const mar = await scratch.write('link.mar', zipOf(validFiles(), [{ name: 'passwd', data: Buffer.from('/etc/passwd'), mode: 0o120777 }]));
    const err = await refusal(inspectArchive(mar));
    expect(err.code).toBe('ArchiveLink');
    expect(err.message).toContain('passwd');
  });

  it.each([
    ['symlink', 'symbolic link'],
    ['link', 'hard link'],
  ] as const)('refuses a tgz %s entry', async (type, kind) => {
    const tgz = await scratch.write('link.tgz', await buildTgz([...tarFiles('crafted', validFiles()), { header: { name: 'crafted/passwd', type, linkname: '/etc/passwd' } }]));
    const err = await refusal(extractArchive(tgz, scratch.path('out')));
    expect(err.code).toBe('ArchiveLink');
    expect(err.message).toContain(kind);
    await expect(readdir(scratch.path('out'))).rejects.toThrow();
  });

  it('refuses a symbolic link inside a directory archive', async () => {
    const dir = scratch.path('model');
    await mkdir(join(dir, 'handler'), { recursive: true });
    for (const [name, data] of Object.entries(validFiles())) {
      await mkdir(join(dir, name, '..'), { recursive: true });
      await writeFile(join(dir, name), data);
    }
    await symlink('/etc/passwd', join(dir, 'labels.txt'));
    const err = await refusal(inspectArchive(dir));
    expect(err.code).toBe('ArchiveLink');
    expect(err.message).toContain('labels.txt');
  });

  it('refuses a hard-linked file inside a directory archive', async () => {
    const dir = scratch.path('model');
    for (const [name, data] of Object.entries(validFiles())) {
      await mkdir(join(dir, name, '..'), { recursive: true });
      await writeFile(join(dir, name), data);
    }
    await writeFile(scratch.path('outside'), 'secret');
    await link(scratch.path('outside'), join(dir, 'labels.txt'));
    expect((await refusal(inspectArchive(dir))).code).toBe('ArchiveLink');
  });
});

describe('zip bombs and limits', () => {
  const zeros = Buffer.alloc(8 * 1024 * 1024);

  it('refuses more entries than maxEntries', async () => {
    const many: Record<string, Buffer> = {};
    for (let i = 0; i < 20; i++) many[`f${i}.txt`] = Buffer.from(String(i));
    const mar = await scratch.write('many.mar', zipOf(validFiles(many)));
    expect((await refusal(inspectArchive(mar, { maxEntries: 10 }))).code).toBe('ArchiveTooManyEntries');
  });

  it('refuses entries whose total size is over maxTotalBytes', async () => {
    const mar = await scratch.write('big.mar', zipOf(validFiles({ 'a.bin': Buffer.alloc(600), 'b.bin': Buffer.alloc(600) })));
    const err = await refusal(inspectArchive(mar, { maxTotalBytes: 1000 }));
    expect(err.code).toBe('ArchiveTooLarge');
  });

  it('refuses an entry over maxEntryBytes and names it', async () => {
    const mar = await scratch.write('big.mar', zipOf(validFiles({ 'weights.bin': Buffer.alloc(4096) })));
    const err = await refusal(inspectArchive(mar, { maxEntryBytes: 1024 }));
    expect(err.code).toBe('ArchiveTooLarge');
    expect(err.message).toContain('weights.bin');
  });

  it('refuses a zip entry whose declared compression ratio is over the limit', async () => {
    const mar = await scratch.write('bomb.mar', zipOf(validFiles({ 'zeros.bin': zeros })));
    const err = await refusal(inspectArchive(mar));
    expect(err.code).toBe('ArchiveCompressionRatio');
    expect(err.message).toContain('zeros.bin');
  });

  it('stops inflating an entry that lies about its size in the central directory', async () => {
    // Listed in the manifest as 100 bytes, declared 100 bytes, but inflating to 8 MiB.
    const files = validFiles({ 'liar.bin': Buffer.alloc(100) });
    const entries = Object.entries(files).map(([name, data]): RawZipEntry =>
      name === 'liar.bin' ? { name, data: zeros, deflate: true, declaredSize: 100 } : { name, data, deflate: true },
    );
    const mar = await scratch.write('liar.mar', buildZip(entries));
    const err = await refusal(extractArchive(mar, scratch.path('out')));
    expect(err.code).toBe('ArchiveTooLarge');
    expect(err.message).toContain('liar.bin');
    await expect(readdir(scratch.path('out'))).rejects.toThrow();
  });

  it('refuses a tgz that expands more than maxCompressionRatio', async () => {
    const tgz = await scratch.write('bomb.tgz', await buildTgz(tarFiles('crafted', validFiles({ 'zeros.bin': zeros }))));
    expect((await refusal(inspectArchive(tgz))).code).toBe('ArchiveCompressionRatio');
  });

  it('accepts the same tgz when the ratio limit allows it', async () => {
    const tgz = await scratch.write('zeros.tgz', await buildTgz(tarFiles('crafted', validFiles({ 'zeros.bin': zeros }))));
    expect((await inspectArchive(tgz, { maxCompressionRatio: 10_000 })).manifest.files['zeros.bin']?.size).toBe(zeros.length);
  });
});

describe('manifest and contents', () => {
  it('refuses an archive without a manifest', async () => {
    const mar = await scratch.write('bare.mar', zipOf({ [BUNDLE_PATH]: HANDLER_JS }));
    const err = await refusal(inspectArchive(mar));
    expect(err.code).toBe('ManifestMissing');
    expect(err.message).toContain(MANIFEST_PATH);
  });

  it('refuses a manifest that is not JSON', async () => {
    const mar = await scratch.write('bad.mar', zipOf({ [MANIFEST_PATH]: Buffer.from('{not json'), [BUNDLE_PATH]: HANDLER_JS }));
    expect((await refusal(inspectArchive(mar))).code).toBe('ManifestInvalid');
  });

  it('refuses a manifest that fails the schema and names the field', async () => {
    const manifest = { ...manifestFor({ [BUNDLE_PATH]: HANDLER_JS }), runtime: 'python' };
    const mar = await scratch.write('bad.mar', zipOf({ [MANIFEST_PATH]: Buffer.from(JSON.stringify(manifest)), [BUNDLE_PATH]: HANDLER_JS }));
    const err = await refusal(inspectArchive(mar));
    expect(err.code).toBe('ManifestInvalid');
    expect(err.message).toContain('runtime');
  });

  it('refuses a manifest naming a file that is not in the archive', async () => {
    const manifest = manifestFor({ [BUNDLE_PATH]: HANDLER_JS, 'model.onnx': Buffer.from('weights') });
    const mar = await scratch.write('missing.mar', zipOf({ [MANIFEST_PATH]: Buffer.from(JSON.stringify(manifest)), [BUNDLE_PATH]: HANDLER_JS }));
    const err = await refusal(inspectArchive(mar));
    expect(err.code).toBe('ArchiveFileMissing');
    expect(err.message).toContain('model.onnx');
  });

  it('refuses a file whose sha256 differs from the manifest, and removes what it extracted', async () => {
    const manifest = manifestFor({ [BUNDLE_PATH]: HANDLER_JS, 'labels.json': Buffer.from('["cat"]') });
    const mar = await scratch.write(
      'tampered.mar',
      zipOf({ [MANIFEST_PATH]: Buffer.from(JSON.stringify(manifest)), [BUNDLE_PATH]: HANDLER_JS, 'labels.json': Buffer.from('["dog"]') }),
    );
    const err = await refusal(extractArchive(mar, scratch.path('out')));
    expect(err.code).toBe('ArchiveDigestMismatch');
    expect(err.message).toContain('labels.json');
    await expect(readdir(scratch.path('out'))).rejects.toThrow();
  });

  it('refuses a tampered file in a tgz whose manifest comes last', async () => {
    const manifest = manifestFor({ [BUNDLE_PATH]: HANDLER_JS });
    const entries = tarFiles('crafted', { [BUNDLE_PATH]: Buffer.from(HANDLER_JS.toString().replace('ok', 'ko')), [MANIFEST_PATH]: Buffer.from(JSON.stringify(manifest)) });
    const tgz = await scratch.write('tampered.tgz', await buildTgz(entries));
    expect((await refusal(extractArchive(tgz, scratch.path('out')))).code).toBe('ArchiveDigestMismatch');
    await expect(readdir(scratch.path('out'))).rejects.toThrow();
  });

  it('refuses a file the manifest does not list', async () => {
    const mar = await scratch.write('extra.mar', zipOf(validFiles(), [{ name: 'payload.sh', data: Buffer.from('rm -rf /') }]));
    const err = await refusal(inspectArchive(mar));
    expect(err.code).toBe('ArchiveFileUnlisted');
    expect(err.message).toContain('payload.sh');
  });

  it('refuses an entry that appears twice', async () => {
    const files = validFiles();
    const mar = await scratch.write('dup.mar', zipOf(files, [{ name: BUNDLE_PATH, data: HANDLER_JS }]));
    expect((await refusal(inspectArchive(mar))).code).toBe('ArchiveDuplicateEntry');
  });

  it('refuses a file that is not an archive', async () => {
    const junk = await scratch.write('junk.mar', Buffer.from('definitely not a zip file'));
    expect((await refusal(inspectArchive(junk))).code).toBe('ArchiveUnreadable');
  });
});
