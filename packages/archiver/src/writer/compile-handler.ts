import { builtinModules } from 'node:module';
import { dirname, relative } from 'node:path';
import { build, type Message } from 'esbuild';
import { HandlerBuildFailed, HandlerExportMissing } from '../errors.js';

/**
 * Packages the server's worker provides at run time. They stay external: native addons
 * (onnxruntime, sharp) cannot be bundled, and the SDK must be the server's own copy so that
 * `instanceof HandlerError` holds. Every other package the handler imports is bundled, so an
 * archive runs without an `npm install` next to it.
 */
export const RUNTIME_PACKAGES = ['onnxruntime-node', 'onnxruntime-common', '@nodeserve/handler-sdk', 'sharp', 'jimp'] as const;

export const BUNDLE_PATH = 'handler/index.mjs';
export const BUNDLE_MAP_PATH = `${BUNDLE_PATH}.map`;

/** CommonJS dependencies bundled into ESM still call `require` for Node builtins. */
const REQUIRE_SHIM = "import { createRequire as __nodeserveCreateRequire } from 'node:module';\nconst require = __nodeserveCreateRequire(import.meta.url);";

export interface CompiledHandler {
  code: Buffer;
  map: Buffer;
  exports: string[];
}

function formatMessage(m: Message): string {
  const where = m.location ? `${m.location.file}:${m.location.line}:${m.location.column + 1} ` : '';
  return `${where}${m.text}`;
}

/**
 * Bundles the handler and its local imports into one ESM file with a source map whose sources are
 * relative to `archiveRoot/handler/`, i.e. to where the sources sit in the archive.
 */
export async function bundleHandler(file: string, archiveRoot: string, exportName: string): Promise<CompiledHandler> {
  let result;
  try {
    result = await build({
      entryPoints: [file],
      bundle: true,
      format: 'esm',
      platform: 'node',
      target: 'node20',
      sourcemap: 'external',
      sourcesContent: true,
      write: false,
      metafile: true,
      logLevel: 'silent',
      outfile: `${archiveRoot}/${BUNDLE_PATH}`,
      absWorkingDir: dirname(file),
      banner: { js: REQUIRE_SHIM },
      external: [...RUNTIME_PACKAGES.flatMap((p) => [p, `${p}/*`]), ...builtinModules, 'node:*'],
    });
  } catch (err) {
    const errors = (err as { errors?: Message[] }).errors;
    if (!errors) throw err;
    throw new HandlerBuildFailed(`handler does not build:\n${errors.slice(0, 20).map(formatMessage).join('\n')}`);
  }
  const code = result.outputFiles.find((f) => f.path.endsWith('.mjs'));
  const map = result.outputFiles.find((f) => f.path.endsWith('.mjs.map'));
  const output = Object.entries(result.metafile.outputs).find(([path]) => path.endsWith('.mjs'));
  if (!code || !map || !output) throw new HandlerBuildFailed(`bundling ${file} produced no output`);
  const exports = output[1].exports;
  if (!exports.includes(exportName)) {
    const found = exports.length > 0 ? exports.join(', ') : 'nothing';
    throw new HandlerExportMissing(`${relative(process.cwd(), file)} has no export "${exportName}" (it exports ${found})`);
  }
  return { code: Buffer.from(code.contents), map: Buffer.from(map.contents), exports };
}
