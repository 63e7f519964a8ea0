export {
  DEFAULT_SEED,
  DEFAULT_SYNTHETIC_MODEL_PATH,
  OutputExistsError,
  SYNTHETIC_NOTICE,
  generateSyntheticResNet50,
  type GenerateOptions,
  type GenerateResult,
} from './generate.js';
export { BATCH_DIM, CLASSES, INPUT_NAME, OUTPUT_NAME, buildResNet50V1 } from './resnet50-v1.js';
