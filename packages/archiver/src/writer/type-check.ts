import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { homedir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { z } from 'zod';
import { HandlerTypeCheckFailed } from '../errors.js';
import { checkExportCallable } from './export-shape.js';
import { ancestors, ownTypeRoots, runtimePackageLocations } from './runtime-resolution.js';

const require = createRequire(import.meta.url);

/** A cache record lists every file the compiler read; far more than this is not a handler. */
const MAX_CACHE_RECORD_BYTES = 4 * 1024 * 1024;

const CacheRecordSchema = z.object({
  files: z.array(z.object({ path: z.string(), sha256: z.string().regex(/^[0-9a-f]{64}$/) })).max(20_000),
});

/**
 * `node_modules/@types` folders above the handler, then above the working directory, as tsc would
 * look, then the archiver's own (the first holding `node` wins).
 */
function typeRootsFor(file: string, cwd: string): string[] {
  const dirs = new Set([...ancestors(dirname(file)), ...ancestors(cwd)]);
  const near = [...dirs].map((d) => join(d, 'node_modules', '@types')).filter((d) => existsSync(d));
  return [...new Set([...near, ...ownTypeRoots()])];
}

/**
 * The compiler options as tsconfig JSON: the same object is hashed into the cache key and
 * compiled, so where the runtime packages were found (`paths`) is part of the key.
 */
function compilerOptionsFor(file: string, cwd: string): Record<string, unknown> {
  const typeRoots = typeRootsFor(file, cwd);
  const paths: Record<string, string[]> = {};
  for (const [name, dir] of Object.entries(runtimePackageLocations(file, cwd))) {
    paths[name] = [dir];
    paths[`${name}/*`] = [`${dir}/*`];
  }
  // Only Node's own types: other @types packages in a monorepo (jest, say) would leak globals into the check.
  const types = typeRoots.some((root) => existsSync(join(root, 'node'))) ? ['node'] : [];
  return {
    strict: true,
    noEmit: true,
    target: 'es2022',
    module: 'esnext',
    moduleResolution: 'bundler',
    lib: ['es2023'],
    allowImportingTsExtensions: true,
    esModuleInterop: true,
    resolveJsonModule: true,
    isolatedModules: true,
    skipLibCheck: true,
    typeRoots,
    types,
    ...(Object.keys(paths).length > 0 ? { paths } : {}),
  };
}

function sha256(data: Buffer | string): string {
  return createHash('sha256').update(data).digest('hex');
}

/** `$XDG_CACHE_HOME/nodeserve/typecheck`, else `~/.cache/nodeserve/typecheck`. */
export function typeCheckCacheDir(): string {
  const base = process.env.XDG_CACHE_HOME || join(homedir(), '.cache');
  return join(base, 'nodeserve', 'typecheck');
}

/**
 * A handler that passed is recorded with the sha256 of every file the compiler read for it (its
 * local sources and imports, the declaration files and package.json of the packages it uses). The
 * record is reused only while every one of those files is byte-for-byte unchanged, so any edit to
 * the handler or its imports is checked again. Failures are never recorded.
 */
async function cachedPass(recordFile: string): Promise<boolean> {
  let record;
  try {
    const bytes = await readFile(recordFile);
    if (bytes.length > MAX_CACHE_RECORD_BYTES) return false;
    record = CacheRecordSchema.safeParse(JSON.parse(bytes.toString('utf8')));
  } catch {
    return false;
  }
  if (!record.success || record.data.files.length === 0) return false;
  for (const { path, sha256: expected } of record.data.files) {
    const bytes = await readFile(path).catch(() => undefined);
    if (!bytes || sha256(bytes) !== expected) return false;
  }
  return true;
}

async function recordPass(recordFile: string, read: Map<string, string>): Promise<void> {
  const entries = [...read].map(([path, digest]) => ({ path, sha256: digest }));
  const temp = `${recordFile}.${process.pid}.tmp`;
  try {
    await mkdir(dirname(recordFile), { recursive: true });
    await writeFile(temp, JSON.stringify({ files: entries }));
    await rename(temp, recordFile);
  } catch {
    // The cache only saves time: an unwritable cache directory must not fail the archive.
    await rm(temp, { force: true });
  }
}

/**
 * Strict type check of a TypeScript handler and everything it imports locally; `file:line:col
 * message` per problem. Then the export the server will call must be callable. TypeScript is
 * loaded only when the cache cannot vouch for the handler and that export.
 */
export async function typeCheckHandler(file: string, exportName: string, cwd: string): Promise<void> {
  if (!/\.m?ts$/.test(file)) return;
  const options = compilerOptionsFor(file, cwd);
  const typescriptVersion = (JSON.parse(await readFile(require.resolve('typescript/package.json'), 'utf8')) as { version: string }).version;
  const key = sha256(JSON.stringify({ typescriptVersion, options, file, exportName }));
  const recordFile = join(typeCheckCacheDir(), `${key}.json`);
  if (await cachedPass(recordFile)) return;

  const { default: ts } = await import('typescript');
  const { options: compilerOptions, errors } = ts.convertCompilerOptionsFromJson(options, dirname(file));
  if (errors.length > 0) throw new Error(`type-check options: ${ts.flattenDiagnosticMessageText(errors[0]?.messageText, '\n')}`);
  // Every file the compiler reads (sources, declarations, the package.json files that steer module
  // resolution) is hashed from the very bytes it compiles, so the record cannot vouch for an edit
  // made while the check ran. TypeScript's own lib files are covered by its version in the key.
  const host = ts.createCompilerHost(compilerOptions);
  const libDir = dirname(ts.getDefaultLibFilePath(compilerOptions));
  const read = new Map<string, string>();
  host.readFile = (path) => {
    let bytes: Buffer;
    try {
      bytes = readFileSync(path);
    } catch {
      return undefined;
    }
    if (dirname(path) !== libDir) read.set(path, sha256(bytes));
    const text = bytes.toString('utf8');
    return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  };
  const program = ts.createProgram([file], compilerOptions, host);
  const problems = ts
    .getPreEmitDiagnostics(program)
    .filter((d) => d.category === ts.DiagnosticCategory.Error)
    .filter((d) => !d.file || (!d.file.isDeclarationFile && !d.file.fileName.includes('/node_modules/')))
    .map((d) => {
      const text = ts.flattenDiagnosticMessageText(d.messageText, '\n');
      if (!d.file || d.start === undefined) return text;
      const { line, character } = d.file.getLineAndCharacterOfPosition(d.start);
      return `${relative(cwd, d.file.fileName)}:${line + 1}:${character + 1} ${text}`;
    });
  if (problems.length > 0) {
    throw new HandlerTypeCheckFailed(`handler does not type-check:\n${problems.slice(0, 20).join('\n')}`);
  }
  checkExportCallable(program, file, exportName, cwd, ts);
  await recordPass(recordFile, read);
}
