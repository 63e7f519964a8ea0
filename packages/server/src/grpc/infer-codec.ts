import type { NamedTensor } from '@nodeserve/handler-sdk';
import { BadRequest } from '../errors.js';
import { decodeBinaryInput, encodeBinaryOutput, parseInferRequest, protocolParameters, type V2InferRequest, type V2Parameters } from '../open-inference/index.js';
import { decodeContents, encodeContents, hasContents, hasContentsField } from './contents.js';
import type { InferOutputTensor, ModelInferRequest, ModelInferResponse } from './messages.js';
import { fromInferParameters, toInferParameters } from './parameters.js';

export interface DecodedModelInfer {
  /** The request in the protocol's shape, checked against the same bounds as a REST request. */
  request: V2InferRequest;
  tensors: NamedTensor[];
  /** Names of the outputs the client listed, if it listed any. */
  requestedOutputs: string[] | undefined;
  /** Outputs go back in `raw_output_contents`: the inputs came raw, or the request set `binary_data_output`. */
  rawOutputs: boolean;
}

/**
 * A `ModelInferRequest` as tensors. Its inputs come either all in typed `contents` or all in
 * `raw_input_contents`, one entry per input in order (the proto forbids mixing); sizes are checked
 * before any tensor is built. `maxElements` bounds every shape (the message size limit: an element
 * takes at least a byte on the wire).
 */
export function decodeModelInferRequest(message: ModelInferRequest, maxElements: number): DecodedModelInfer {
  const parameters = fromInferParameters(message.parameters, 'parameters');
  const request = parseInferRequest({
    ...(message.id ? { id: message.id } : {}),
    ...(parameters === undefined ? {} : { parameters }),
    inputs: message.inputs.map((input, i) => {
      const own = fromInferParameters(input.parameters, `inputs.${i}.parameters`);
      return { name: input.name ?? '', shape: input.shape.map(Number), datatype: input.datatype ?? '', ...(own === undefined ? {} : { parameters: own }) };
    }),
    ...(message.outputs.length === 0
      ? {}
      : {
          outputs: message.outputs.map((output, i) => {
            const own = fromInferParameters(output.parameters, `outputs.${i}.parameters`);
            return { name: output.name ?? '', ...(own === undefined ? {} : { parameters: own }) };
          }),
        }),
  });

  const raw = message.raw_input_contents;
  let tensors: NamedTensor[];
  if (raw.length > 0) {
    if (raw.length !== request.inputs.length) {
      throw new BadRequest(`raw_input_contents has ${raw.length} entries for ${request.inputs.length} inputs: it needs one per input, in the order of inputs`);
    }
    const mixed = message.inputs.find((input) => hasContents(input.contents));
    if (mixed !== undefined) throw new BadRequest(`Input "${mixed.name ?? ''}" has contents, but the request sends raw_input_contents: send every input one way`);
    tensors = request.inputs.map((input, i) => decodeBinaryInput(input, raw[i] as Buffer, maxElements, 'raw_input_contents entry'));
  } else {
    tensors = request.inputs.map((input, i) => decodeContents(input, message.inputs[i]?.contents, maxElements));
  }
  return {
    request,
    tensors,
    requestedOutputs: request.outputs?.map((o) => o.name),
    rawOutputs: raw.length > 0 || request.parameters?.['binary_data_output'] === true,
  };
}

/**
 * The answer as a `ModelInferResponse`: outputs in typed `contents`, or all in `raw_output_contents`
 * when `raw` or when an output's datatype has no contents field (FP16), since the proto forbids
 * mixing the two within a response.
 */
export function encodeModelInferResponse(
  head: { model_name: string; model_version: string; id?: string | undefined; parameters?: V2Parameters | undefined },
  outputs: NamedTensor[],
  raw: boolean,
): ModelInferResponse {
  const allRaw = raw || outputs.some((t) => !hasContentsField(t.datatype));
  const response: ModelInferResponse = {
    model_name: head.model_name,
    model_version: head.model_version,
    outputs: outputs.map((tensor) => {
      const out: InferOutputTensor = { name: tensor.name, datatype: tensor.datatype, shape: tensor.shape };
      const parameters = protocolParameters(tensor.parameters);
      if (parameters !== undefined) out.parameters = toInferParameters(parameters);
      if (!allRaw) out.contents = encodeContents(tensor);
      return out;
    }),
  };
  if (allRaw) response.raw_output_contents = outputs.map(encodeBinaryOutput);
  if (head.id !== undefined && head.id !== '') response.id = head.id;
  if (head.parameters !== undefined) response.parameters = toInferParameters(head.parameters);
  return response;
}
