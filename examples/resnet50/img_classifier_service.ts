/**
 * ImageNet classification service: the MMS tutorial's `img_classifier_service`, in TypeScript, step
 * by step. Any classifier with the standard ImageNet preprocessing works (ResNet-50, MobileNetV2…):
 * tensor names and the input size are read from the model; labels come from `index_to_name.json`
 * (or `synset.txt`) packed with `--extra-files`. `VisionHandler` brings the ONNX Runtime session
 * and the image decoding; `inference` (one run over the stacked batch) and `handle` (preprocess each
 * request, infer the good ones together, postprocess; a bad image fails only its own request) come
 * from `BaseHandler`. The SDK's ready-made `ImageClassifier` does all of this in one line:
 * `export const { initialize, handle, describe } = serve(new ImageClassifier())`.
 */
import {
  DEFAULT_TOPK, handlerSettings, labelled, loadLabels, requestedTopk, serve, softmax, splitBatch, topK, VisionHandler,
  type Batch, type Context, type HandlerResult, type ModelOutputs, type RequestInput, type Tensor,
} from '@nodeserve/handler-sdk';

export class ImgClassifierService extends VisionHandler {
  private labels: string[] | undefined;
  private topk = DEFAULT_TOPK;

  /**
   * Once per worker: the archive's ONNX model (on the assigned GPU, else CPU) and the image decoder,
   * then the labels and the default number of classes (`handler: {topk: 3}` in the model config).
   */
  override async initialize(context: Context): Promise<void> {
    await super.initialize(context);
    this.topk = handlerSettings(context).topk ?? DEFAULT_TOPK;
    this.labels = loadLabels(context.systemProperties.modelDir);
    context.logger.info(`${context.modelName} ${context.modelVersion} ready`, {
      provider: this.provider, images: this.imageBackend.name, inputSize: this.transform().crop, topk: this.topk,
    });
  }

  /**
   * One request → `[1, 3, S, S]` float32, S the model's input size: the image decoded upright, its
   * shorter side scaled to S·256/224, centre-cropped, normalised with the ImageNet mean/std. A v2
   * request carrying an FP32 tensor of the model's input shape is taken as it is.
   */
  override async preprocess(request: RequestInput): Promise<Tensor> {
    // A bad ?topk= fails before any decoding.
    requestedTopk(request);
    return super.preprocess(request);
  }

  /**
   * Softmax over each image's scores, the top k (the request's `topk`, else the config's, else 5),
   * as `[{"tabby": 0.47}, {"tiger cat": 0.40}, …]`; a tensor of several images gets one list each.
   */
  override async postprocess(outputs: ModelOutputs, batch: Batch): Promise<HandlerResult[]> {
    const scores = outputs[this.session.outputNames[0]!]!;
    const classes = scores.dims[scores.dims.length - 1]!;
    return splitBatch(scores, batch.rows).map((part, i) => {
      const k = Math.min(requestedTopk(batch.requests[i]!) ?? this.topk, classes);
      const rows = part.data as Float32Array;
      const images = Array.from({ length: batch.rows[i]! }, (_, row) =>
        labelled(topK(softmax(rows.subarray(row * classes, (row + 1) * classes)), k), this.labels));
      return images.length === 1 ? images[0] : images;
    });
  }
}

export const { initialize, handle, describe } = serve(new ImgClassifierService());
