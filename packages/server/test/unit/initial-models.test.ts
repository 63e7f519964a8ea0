import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { resolveInitialModels } from '../../src/lifecycle/index.js';

describe('resolveInitialModels (--models / load_models)', () => {
  const cwd = mkdtempSync(path.join(tmpdir(), 'ms-models-'));
  const store = path.join(cwd, 'store');
  mkdirSync(path.join(store, 'unpacked/MAR-INF'), { recursive: true });
  mkdirSync(path.join(store, 'not-an-archive'));
  writeFileSync(path.join(store, 'unpacked/MAR-INF/MANIFEST.json'), '{}');
  for (const f of ['a.mar', 'b.tar.gz', 'c.tgz', 'notes.txt']) writeFileSync(path.join(store, f), '');
  writeFileSync(path.join(cwd, 'outside.mar'), '');

  it('loads every archive of the store for "all", .tar.gz and archive directories included', () => {
    expect(resolveInitialModels(['all'], store, cwd).map((m) => path.basename(m.archive))).toEqual(['a.mar', 'b.tar.gz', 'c.tgz', 'unpacked']);
  });

  it('looks names up in the store, then the working directory, and keeps NAME=', () => {
    expect(resolveInitialModels(['first=a.mar', 'outside.mar'], store, cwd)).toEqual([
      { name: 'first', archive: path.join(store, 'a.mar') },
      { archive: path.join(cwd, 'outside.mar') },
    ]);
  });

  it('refuses missing archives, bad names, URLs and "all" without a store', () => {
    expect(() => resolveInitialModels(['missing.mar'], store, cwd)).toThrow(/Archive not found: missing\.mar/);
    expect(() => resolveInitialModels(['../x=a.mar'], store, cwd)).toThrow(/not a valid model name/);
    expect(() => resolveInitialModels(['https://example.com/a.mar'], store, cwd)).toThrow(/only local archives/);
    expect(() => resolveInitialModels(['all'], undefined, cwd)).toThrow(/needs a model store/);
    expect(() => resolveInitialModels(['all', 'a.mar'], store, cwd)).toThrow(/cannot be combined/);
  });
});
