import type {
  InferenceOutcome,
  InferenceRequest,
  ModelRegistry,
  ModelVersionHandle,
} from '../../src/models/types.js';
import { ModelNotFound } from '../../src/errors.js';

/** What an archive of the stand-in model would hold: enough for the routes that describe a model. */
const MANIFEST = {
  createdOn: '01/01/2026 00:00:00',
  runtime: 'node',
  archiverVersion: '0.1.0',
  specificationVersion: '1.0',
  model: { modelName: 'echo', modelVersion: '1.0', handler: 'echo:handle' },
  entryPoint: { bundle: 'handler/index.mjs', exportName: 'handle', source: 'echo.ts' },
  config: {},
  files: {},
} as const;

/**
 * A registry answering in-process, for tests of the HTTP layer alone (body parsing, error mapping,
 * draining): `answer` plays the model. The serving engine has its own tests (`../engine`), and the
 * end-to-end tests (`../end-to-end`) run the real one.
 */
export function inProcessRegistry(
  answer: (request: InferenceRequest) => Promise<InferenceOutcome> | InferenceOutcome,
  options: { healthy?: () => boolean } = {},
): ModelRegistry & { seen: InferenceRequest[] } {
  const seen: InferenceRequest[] = [];
  const handle: ModelVersionHandle = {
    name: 'echo',
    version: '1.0',
    manifest: { ...MANIFEST, model: { ...MANIFEST.model }, entryPoint: { ...MANIFEST.entryPoint }, config: {}, files: {} },
    modelDir: '/nonexistent/echo',
    archivePath: '/nonexistent/echo.mar',
    config: { minWorkers: 1, maxWorkers: 1, batchSize: 1, maxBatchDelay: 0, responseTimeout: 30, startupTimeout: 30, retryOnWorkerFailure: true },
    metadata: { inputs: [], outputs: [] },
    submit: async (request: InferenceRequest) => {
      seen.push(request);
      return answer(request);
    },
    queueLength: () => 0,
    workers: () => [],
    isReady: () => true,
    scale: () => Promise.resolve(),
  };
  return {
    seen,
    register: () => Promise.reject(new Error('not used')),
    unregister: () => Promise.resolve(),
    setDefault: () => undefined,
    resolve(name: string, version?: string) {
      if (name !== 'echo' || (version !== undefined && version !== '1.0')) throw new ModelNotFound(name, version);
      return handle;
    },
    list: () => [{ name: 'echo', defaultVersion: '1.0', versions: [handle] }],
    isHealthy: () => options.healthy?.() ?? true,
    shutdown: () => Promise.resolve(),
  };
}
