import { effectiveConfig, type EngineDefaults } from '../../src/models/effective-config.js';

const host = { cpuCount: 2, memoryBytes: 8 * 2 ** 30, modelBytes: 4 * 2 ** 20 };
const defaults: EngineDefaults = { maxBatchDelay: 100, responseTimeout: 120, jobQueueSize: 100, numberOfGpu: 0, startupTimeout: 120 };

describe('effectiveConfig: who sets the batch size', () => {
  it('leaves it to the handler when nothing sets it: 1 until a worker reports maxBatchSize', () => {
    expect(effectiveConfig(defaults, {}, {}, host)).toMatchObject({ batchSize: 1, maxBatchDelay: 100, handlerBatching: true });
  });

  it.each([
    ['config.properties batch_size', { ...defaults, batchSize: 1 }, {}, {}, 1],
    ['the archive’s batchSize', defaults, { batchSize: 4 }, {}, 4],
    ['registration’s batch_size', defaults, {}, { batchSize: 2 }, 2],
    ['registration over the archive', { ...defaults, batchSize: 8 }, { batchSize: 4 }, { batchSize: 1 }, 1],
  ])('keeps %s, even 1', (_source, d, archive, options, expected) => {
    expect(effectiveConfig(d, archive, options, host)).toMatchObject({ batchSize: expected, handlerBatching: false });
  });
});
