import type { InferenceOutcome } from '../../models/types.js';
import { encodeJsonOutput } from '../../open-inference/index.js';

/**
 * One instance's answer as an element of `predictions`: what `/predictions` would have answered for
 * it, as JSON. A JSON answer is spliced in as the worker wrote it (no parse and re-serialise); bytes
 * become TF Serving's `{"b64": …}` with their content type; tensors become `{"outputs": […]}` as on
 * `/predictions`.
 */
export function predictionJson(outcome: InferenceOutcome): Buffer {
  switch (outcome.kind) {
    case 'json':
      return outcome.body;
    case 'bytes':
      return Buffer.from(JSON.stringify({ b64: outcome.body.toString('base64'), content_type: outcome.contentType }));
    case 'tensors':
      return Buffer.from(
        JSON.stringify({
          outputs: outcome.outputs.map(encodeJsonOutput),
          ...(outcome.parameters === undefined ? {} : { parameters: outcome.parameters }),
        }),
      );
  }
}

/** `{"predictions": [p0, p1, …]}` from each instance's answer, in instance order. */
export function predictionsBody(predictions: Buffer[]): Buffer {
  const parts: Buffer[] = [Buffer.from('{"predictions":[')];
  predictions.forEach((p, i) => {
    if (i > 0) parts.push(Buffer.from(','));
    parts.push(p);
  });
  parts.push(Buffer.from(']}'));
  return Buffer.concat(parts);
}
