import type {
  InferenceOutcome,
  InferenceRequest,
  ModelRegistry,
  ModelVersionHandle,
} from '../../src/models/types.js';
import { ModelNotFound } from '../../src/errors.js';

/**
 * A registry answering in-process, for tests of the HTTP layer alone (body parsing, error mapping,
 * draining): `answer` plays the model. The serving engine has its own tests and the end-to-end tests
 * in `test/server/` run the real one.
 */
export function inProcessRegistry(
  answer: (request: InferenceRequest) => Promise<InferenceOutcome> | InferenceOutcome,
  options: { healthy?: () => boolean } = {},
): ModelRegistry & { seen: InferenceRequest[] } {
  const seen: InferenceRequest[] = [];
  const handle = {
    name: 'echo',
    version: '1.0',
    submit: async (request: InferenceRequest) => {
      seen.push(request);
      return answer(request);
    },
    queueLength: () => 0,
    workers: () => [],
    isReady: () => true,
  } as unknown as ModelVersionHandle;
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
