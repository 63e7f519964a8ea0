import { access } from 'node:fs/promises';
import { isAbsolute, join, resolve } from 'node:path';
import { HandlerInvalid, HandlerNotFound } from '../errors.js';

export const HANDLER_EXTENSIONS = ['.ts', '.mts', '.js', '.mjs'] as const;
const EXPORT_NAME = /^[A-Za-z_$][A-Za-z0-9_$]*$/;
export const DEFAULT_EXPORT_NAME = 'handle';

export interface HandlerSpec {
  /** Absolute path of the handler's source file. */
  file: string;
  exportName: string;
}

async function exists(file: string): Promise<boolean> {
  return access(file).then(
    () => true,
    () => false,
  );
}

/**
 * `--handler` is either MMS's `module[:function]`, the module found in `--model-path` with one of
 * the handler extensions, or TorchServe's `path/to/file.ts[:export]`. The export defaults to `handle`.
 */
export async function resolveHandlerSpec(spec: string, modelPath: string | undefined, cwd: string): Promise<HandlerSpec> {
  const colon = spec.lastIndexOf(':');
  const hasExport = colon > 0 && EXPORT_NAME.test(spec.slice(colon + 1));
  const target = hasExport ? spec.slice(0, colon) : spec;
  const exportName = hasExport ? spec.slice(colon + 1) : DEFAULT_EXPORT_NAME;
  if (target === '') throw new HandlerNotFound(`--handler "${spec}" names no module or file`);
  if (colon > 0 && !hasExport && !/^[A-Za-z]:[\\/]/.test(spec)) {
    throw new HandlerInvalid(`--handler "${spec}": "${spec.slice(colon + 1)}" is not a valid export name`);
  }

  const looksLikeFile = target.includes('/') || target.includes('\\') || HANDLER_EXTENSIONS.some((ext) => target.endsWith(ext));
  if (looksLikeFile) {
    const file = isAbsolute(target) ? target : resolve(cwd, target);
    if (!HANDLER_EXTENSIONS.some((ext) => file.endsWith(ext))) {
      throw new HandlerInvalid(`handler file ${file} must end in ${HANDLER_EXTENSIONS.join(', ')}`);
    }
    if (!(await exists(file))) throw new HandlerNotFound(`handler file ${file} does not exist`);
    return { file, exportName };
  }

  const searched: string[] = [];
  for (const ext of HANDLER_EXTENSIONS) {
    const file = resolve(join(modelPath ?? cwd, target + ext));
    searched.push(file);
    if (await exists(file)) return { file, exportName };
  }
  throw new HandlerNotFound(`handler module "${target}" not found (looked for ${searched.join(', ')})`);
}
