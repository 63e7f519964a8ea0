/**
 * Writes a ResNet-50 v1 ONNX model with seeded random weights, for benchmarks where only the cost of
 * inference matters. Its labels are meaningless. Run: npm run generate:synthetic -w examples/resnet50 -- --help
 */
import { realpathSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Command, InvalidArgumentError } from 'commander';
import { DEFAULT_SEED, DEFAULT_SYNTHETIC_MODEL_PATH, generateSyntheticResNet50 } from './synthetic/index.js';

export * from './synthetic/index.js';

function parseSeed(value: string): number {
  const seed = Number(value);
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(seed) || seed > 0xffff_ffff) {
    throw new InvalidArgumentError(`expected an integer in [0, ${0xffff_ffff}]`);
  }
  return seed;
}

async function main(argv: string[]): Promise<void> {
  const program = new Command('generate-synthetic-resnet50')
    .description('Write ResNet-50 v1 (resnet50-v1-7 topology) with seeded random weights; labels are meaningless.')
    .option('--out <path>', 'where to write the model', DEFAULT_SYNTHETIC_MODEL_PATH)
    .option('--seed <n>', 'PRNG seed; the same seed gives a byte-identical file', parseSeed, DEFAULT_SEED)
    .option('--force', 'replace an existing file', false)
    .option('--json', 'print the result as JSON', false)
    .parse(argv);
  const opts = program.opts<{ out: string; seed: number; force: boolean; json: boolean }>();
  // npm runs workspace scripts in the workspace folder; a relative --out means the caller's folder.
  const out = resolve(process.env.INIT_CWD ?? process.cwd(), opts.out);
  const result = await generateSyntheticResNet50({ out, seed: opts.seed, force: opts.force });
  if (opts.json) {
    console.log(JSON.stringify(result));
    return;
  }
  console.log(`wrote ${result.path}`);
  console.log(`  parameters: ${result.parameters.toLocaleString('en-US')} (seed ${opts.seed}; synthetic weights, labels meaningless)`);
  console.log(`  size: ${result.bytes.toLocaleString('en-US')} bytes in ${result.ms} ms`);
}

if (process.argv[1] && realpathSync(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main(process.argv).catch((error: unknown) => {
    const code = (error as { code?: unknown }).code;
    console.error(`generate-synthetic-resnet50: ${typeof code === 'string' ? `${code}: ` : ''}${(error as Error).message}`);
    process.exitCode = 1;
  });
}
