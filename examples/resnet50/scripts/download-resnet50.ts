/**
 * Downloads the ONNX Model Zoo's ResNet-50 v1 (resnet50-v1-7.onnx) and the ImageNet labels
 * (synset.txt), verifying size and sha256. Needs internet; nothing in the test suite depends on it.
 * Run: npm run download -w examples/resnet50 -- --help
 */
import { realpathSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Command, InvalidArgumentError, Option } from 'commander';
import { ARTIFACTS, DEFAULT_MODEL_DIR, DEFAULT_TIMEOUT_MS, downloadVerified, type ArtifactKey, type DownloadResult } from './download/index.js';

export * from './download/index.js';

export interface DownloadResNet50Options {
  dir?: string;
  only?: ArtifactKey;
  /** Replace the zoo URLs (a mirror, or a local server in tests); otherwise the artifact's env variable, then the zoo. */
  urls?: Partial<Record<ArtifactKey, string>>;
  timeoutMs?: number;
}

export async function downloadResNet50(options: DownloadResNet50Options = {}): Promise<Record<string, DownloadResult>> {
  const dir = options.dir ?? DEFAULT_MODEL_DIR;
  const keys = options.only ? [options.only] : (Object.keys(ARTIFACTS) as ArtifactKey[]);
  const results: Record<string, DownloadResult> = {};
  for (const key of keys) {
    const artifact = ARTIFACTS[key];
    results[key] = await downloadVerified({
      url: options.urls?.[key] ?? process.env[artifact.urlEnv] ?? artifact.url,
      dest: join(dir, artifact.file),
      sha256: artifact.sha256,
      size: artifact.size,
      timeoutMs: options.timeoutMs,
    });
  }
  return results;
}

function parseSeconds(value: string): number {
  const seconds = Number(value);
  if (!Number.isFinite(seconds) || seconds <= 0 || seconds > 3600) throw new InvalidArgumentError('expected seconds in (0, 3600]');
  return seconds;
}

async function main(argv: string[]): Promise<void> {
  const program = new Command('download-resnet50')
    .description('Download resnet50-v1-7.onnx and synset.txt from the ONNX Model Zoo, verified by size and sha256.')
    .option('--dir <path>', 'folder to write into', DEFAULT_MODEL_DIR)
    .addOption(new Option('--only <artifact>', 'fetch only one artifact').choices(Object.keys(ARTIFACTS)))
    .option('--model-url <url>', `replace the model URL (env ${ARTIFACTS.model.urlEnv})`)
    .option('--labels-url <url>', `replace the labels URL (env ${ARTIFACTS.labels.urlEnv})`)
    .option('--timeout-s <seconds>', 'limit for each download', parseSeconds, DEFAULT_TIMEOUT_MS / 1000)
    .option('--json', 'print the results as JSON', false)
    .parse(argv);
  const opts = program.opts<{ dir: string; only?: ArtifactKey; modelUrl?: string; labelsUrl?: string; timeoutS: number; json: boolean }>();
  const results = await downloadResNet50({
    // npm runs workspace scripts in the workspace folder; a relative --dir means the caller's folder.
    dir: resolve(process.env.INIT_CWD ?? process.cwd(), opts.dir),
    only: opts.only,
    urls: { model: opts.modelUrl, labels: opts.labelsUrl },
    timeoutMs: opts.timeoutS * 1000,
  });
  if (opts.json) {
    console.log(JSON.stringify(results));
    return;
  }
  for (const result of Object.values(results)) {
    const what = result.status === 'present' ? 'already present and valid' : `downloaded and verified in ${result.ms} ms`;
    console.log(`${result.path}: ${what} (${result.bytes.toLocaleString('en-US')} bytes)`);
  }
}

if (process.argv[1] && realpathSync(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main(process.argv).catch((error: unknown) => {
    const code = (error as { code?: unknown }).code;
    console.error(`download-resnet50: ${typeof code === 'string' ? `${code}: ` : ''}${(error as Error).message}`);
    process.exitCode = 1;
  });
}
