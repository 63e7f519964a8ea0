import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { ModelFailed } from '../errors.js';

/** Label files far beyond ImageNet-21k's size are refused rather than read into memory. */
const MAX_LABEL_FILE_BYTES = 16 * 1024 * 1024;

export const LABEL_FILES = ['index_to_name.json', 'synset.txt'] as const;

/** TorchServe's labels use `_` between words (`tiger_cat`); clients and the zoo's synsets use spaces. */
const display = (label: string): string => label.replace(/_/g, ' ').trim();

function fromIndexToName(text: string, path: string): string[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new ModelFailed(`${path} is not valid JSON: ${(error as Error).message}`, { cause: error });
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new ModelFailed(`${path} must be an object mapping class indices to names, e.g. {"0": ["n01440764", "tench"]}`);
  }
  const labels: string[] = [];
  for (const [key, value] of Object.entries(parsed)) {
    const index = Number(key);
    if (!Number.isInteger(index) || index < 0 || index >= 1_000_000) throw new ModelFailed(`${path}: key ${JSON.stringify(key)} is not a class index`);
    const name = Array.isArray(value) ? value[value.length - 1] : value;
    if (typeof name !== 'string') throw new ModelFailed(`${path}: class ${key} must map to a name or [id, name]`);
    labels[index] = display(name);
  }
  return Array.from(labels, (label, i) => label ?? String(i));
}

/** `n01440764 tench, Tinca tinca` → `tench`: the text after the first space, up to the first comma. */
function fromSynset(text: string): string[] {
  return text.split(/\r?\n/).filter((line) => line.trim() !== '').map((line) => {
    const space = line.indexOf(' ');
    return display((space < 0 ? line : line.slice(space + 1)).split(',')[0]!);
  });
}

/**
 * The class labels shipped in the archive (`--extra-files index_to_name.json` or `synset.txt`), by
 * class index; `undefined` when the archive has neither.
 */
export function loadLabels(modelDir: string): string[] | undefined {
  for (const file of LABEL_FILES) {
    const path = join(modelDir, file);
    if (!existsSync(path)) continue;
    if (statSync(path).size > MAX_LABEL_FILE_BYTES) throw new ModelFailed(`${file} is over ${MAX_LABEL_FILE_BYTES} bytes`);
    const text = readFileSync(path, 'utf8');
    return file === 'synset.txt' ? fromSynset(text) : fromIndexToName(text, file);
  }
  return undefined;
}
