import { effectiveConfig, type EngineDefaults } from '../../src/models/effective-config.js';

const host = { cpuCount: 2, memoryBytes: 8 * 2 ** 30, modelBytes: 4 * 2 ** 20 };
const defaults: EngineDefaults = { responseTimeout: 120, jobQueueSize: 100, numberOfGpu: 0, startupTimeout: 120 };

describe('effectiveConfig: who sets the batch size and delay', () => {
  it('leaves the batch size to the handler when nothing sets it: 1 and TorchServe’s 100 ms until a worker reports maxBatchSize, then no delay', () => {
    const config = effectiveConfig(defaults, {}, {}, host);
    expect(config).toMatchObject({ batchSize: 1, maxBatchDelay: 100, handlerBatching: { maxBatchDelay: 0 } });
  });

  it.each([
    ['config.properties max_batch_delay', { ...defaults, maxBatchDelay: 5 }, {}, {}, 5],
    ['the archive’s maxBatchDelay', defaults, { maxBatchDelay: 20 }, {}, 20],
    ['registration’s max_batch_delay, even 0 over the archive’s', defaults, { maxBatchDelay: 20 }, { maxBatchDelay: 0 }, 0],
  ])('keeps %s for the handler’s batches', (_source, d, archive, options, delay) => {
    expect(effectiveConfig(d, archive, options, host)).toMatchObject({ batchSize: 1, maxBatchDelay: delay, handlerBatching: { maxBatchDelay: delay } });
  });

  it.each([
    ['config.properties batch_size', { ...defaults, batchSize: 1 }, {}, {}, 1],
    ['the archive’s batchSize', defaults, { batchSize: 4 }, {}, 4],
    ['registration’s batch_size', defaults, {}, { batchSize: 2 }, 2],
    ['registration over the archive', { ...defaults, batchSize: 8 }, { batchSize: 4 }, { batchSize: 1 }, 1],
  ])('keeps %s, even 1, and leaves the handler out', (_source, d, archive, options, expected) => {
    const config = effectiveConfig(d, archive, options, host);
    expect(config).toMatchObject({ batchSize: expected, maxBatchDelay: 100 });
    expect(config.handlerBatching).toBeUndefined();
  });
});
