/**
 * ImageNet classification service: the MMS tutorial's `img_classifier_service`, in TypeScript, step
 * by step. Any classifier with the standard 224×224 ImageNet preprocessing works (ResNet-50,
 * MobileNetV2…); labels come from `index_to_name.json` (or `synset.txt`) packed with `--extra-files`.
 * `inference` (one ONNX Runtime run over the stacked batch) and `handle` (preprocess each request,
 * infer the good ones together, postprocess; a bad image fails only its own request) come from
 * `BaseHandler`. The SDK's ready-made `ImageClassifier` does all of this in one line:
 * `export const { initialize, handle, describe } = serve(new ImageClassifier())`.
 */
import {
  BaseHandler, DEFAULT_MAX_PIXELS, handlerSettings, imagenetTransform, labelled, loadLabels, preprocessImage, requestedTopk,
  selectImageBackend, serve, softmax, splitBatch, Tensor, topK,
  type Batch, type Context, type HandlerResult, type ImageBackend, type ModelOutputs, type RequestInput,
} from '@nodeserve/handler-sdk';

export class ImgClassifierService extends BaseHandler {
  private labels: string[] | undefined;
  private images!: ImageBackend;
  private maxPixels = DEFAULT_MAX_PIXELS;
  private readonly transform = imagenetTransform(224);

  /** Once per worker: the archive's ONNX model (on the assigned GPU, else CPU), its labels, the image decoder. */
  override async initialize(context: Context): Promise<void> {
    await super.initialize(context);
    const settings = handlerSettings(context);
    this.labels = loadLabels(context.systemProperties.modelDir);
    this.images = await selectImageBackend(context.logger, settings.imageBackend);
    this.maxPixels = settings.maxImagePixels ?? DEFAULT_MAX_PIXELS;
    context.logger.info(`${context.modelName} ${context.modelVersion} ready`, { provider: this.provider, images: this.images.name });
  }

  /** One image → `[1, 3, 224, 224]` float32: decode upright, shorter side to 256, centre crop, ImageNet mean/std. */
  override async preprocess(request: RequestInput): Promise<Tensor> {
    requestedTopk(request);
    const chw = await preprocessImage(request.body, this.images, this.transform, this.maxPixels);
    return new Tensor('float32', chw, [1, 3, this.transform.crop, this.transform.crop]);
  }

  /** Softmax over the logits, top 5 (or the request's `topk`), as `[{"tabby": 0.47}, {"tiger cat": 0.40}, …]`. */
  override async postprocess(outputs: ModelOutputs, batch: Batch): Promise<HandlerResult[]> {
    const scores = outputs[this.session.outputNames[0]!]!;
    return splitBatch(scores, batch.rows).map((row, i) =>
      labelled(topK(softmax(row.data as Float32Array), requestedTopk(batch.requests[i]!) ?? 5), this.labels));
  }
}

export const { initialize, handle, describe } = serve(new ImgClassifierService());
