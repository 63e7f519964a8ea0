import { readFile, stat } from 'node:fs/promises';
import { parse } from 'yaml';
import { ConfigInvalid, InputMissing } from '../errors.js';
import { ModelConfigSchema, type ModelConfig } from '../manifest/model-config.js';

/** A model config is a few dozen lines; anything bigger is a mistake (or a YAML bomb). */
const MAX_CONFIG_BYTES = 256 * 1024;

/** Reads `--config-file` (YAML, of which JSON is a subset) and validates it; errors name the key. */
export async function readModelConfig(file: string): Promise<ModelConfig> {
  const stats = await stat(file).catch(() => undefined);
  if (!stats?.isFile()) throw new InputMissing(`config file ${file} does not exist`);
  if (stats.size > MAX_CONFIG_BYTES) throw new ConfigInvalid(`config file ${file} is over ${MAX_CONFIG_BYTES} bytes`);
  let data: unknown;
  try {
    // maxAliasCount bounds alias expansion ("billion laughs").
    data = parse(await readFile(file, 'utf8'), { maxAliasCount: 100 });
  } catch (err) {
    throw new ConfigInvalid(`config file ${file} is not valid YAML/JSON: ${(err as Error).message.split('\n')[0]}`);
  }
  const parsed = ModelConfigSchema.safeParse(data ?? {});
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => {
      const key = i.path.join('.');
      const unknown = i.code === 'unrecognized_keys' ? ` ${i.keys.join(', ')}` : '';
      return `${key || '(root)'}:${unknown} ${i.message}`;
    });
    throw new ConfigInvalid(`config file ${file}: ${problems.join('; ')}`);
  }
  return parsed.data;
}
