/**
 * ImageNet classification service: the MMS tutorial's `img_classifier_service`, in TypeScript, with
 * the tutorial's steps. Any classifier with the standard ImageNet preprocessing works (ResNet-50,
 * MobileNetV2…): tensor names and the input size are read from the model; labels come from
 * `index_to_name.json` (or `synset.txt`) packed with `--extra-files`.
 *
 * The SDK's `ImageClassifier` implements each step; this service names them as the tutorial does,
 * so each can be overridden where a model needs something else. `inference` (one run over the stacked
 * batch) and `handle` (preprocess each request, infer the good ones together, postprocess; a bad image
 * fails only its own request) come from `BaseHandler`.
 */
import {
  ImageClassifier, serve,
  type Batch, type Context, type HandlerResult, type ModelOutputs, type RequestInput, type Tensor,
} from '@nodeserve/handler-sdk';

export class ImgClassifierService extends ImageClassifier {
  /**
   * Once per worker: the archive's ONNX model (on the assigned GPU, else CPU), the image decoder, the
   * labels and the default number of classes (`handler: {topk: 3}` in the model config).
   */
  override async initialize(context: Context): Promise<void> {
    await super.initialize(context);
    context.logger.info(`${context.modelName} ${context.modelVersion} ready`, {
      provider: this.provider, images: this.imageBackend.name, inputSize: this.transform().crop, topk: this.topk,
    });
  }

  /**
   * One request → `[N, 3, S, S]` float32, S the model's input size: each image (the body, base64 text
   * of one, or the N elements of a v2 `image` BYTES input) decoded upright, its shorter side scaled to
   * S·256/224, centre-cropped, normalised with the ImageNet mean/std. A v2 request carrying an FP32
   * tensor of the model's input shape is taken as it is; a bad `?topk=` fails before any decoding.
   */
  override async preprocess(request: RequestInput): Promise<Tensor> {
    return super.preprocess(request);
  }

  /**
   * Softmax over each image's scores, the top k (the request's `topk`, else the config's, else 5),
   * as `[{"tabby": 0.47}, {"tiger cat": 0.40}, …]`; several images get one list each. A v2 request
   * gets the tensors `describe()` advertises: the model's scores (`output`) and those lists (`classes`).
   */
  override async postprocess(outputs: ModelOutputs, batch: Batch): Promise<HandlerResult[]> {
    return super.postprocess(outputs, batch);
  }
}

export const { initialize, handle, describe, maxBatchSize } = serve(new ImgClassifierService());
