import type { NamedTensor } from '@nodeserve/handler-sdk';
import { BadRequest } from '../../errors.js';
import { parseInferRequest } from '../../open-inference/request.js';
import type { V2InferOutput, V2InferRequest, V2InferResponse, V2Parameters } from '../../open-inference/schemas.js';
import { decodeBinaryInput, decodeJsonInput, encodeBinaryOutput, encodeJsonOutput } from '../../open-inference/tensors.js';

/** The header of the binary tensor data extension: the JSON part's length in bytes. */
export const INFERENCE_HEADER = 'inference-header-content-length';

export interface DecodedInferRequest {
  request: V2InferRequest;
  tensors: NamedTensor[];
  /** Names of the outputs the client listed, if it listed any. */
  requestedOutputs: string[] | undefined;
  /** Whether an output goes back in binary form. */
  wantsBinary: (outputName: string) => boolean;
}

/**
 * Parses a v2 infer body: plain JSON, or with the binary extension a JSON header of
 * `Inference-Header-Content-Length` bytes followed by the binary inputs in order, each
 * `parameters.binary_data_size` long. Every size is checked against the body before any tensor is built.
 */
export function decodeInferRequest(body: Buffer, headerLength: string | undefined): DecodedInferRequest {
  let jsonPart: Buffer = body;
  let tail: Buffer = Buffer.alloc(0);
  if (headerLength !== undefined) {
    if (!/^\d{1,12}$/.test(headerLength)) throw new BadRequest(`Inference-Header-Content-Length must be a byte count, not "${headerLength}"`);
    const n = Number(headerLength);
    if (n > body.length) throw new BadRequest(`Inference-Header-Content-Length is ${n}, but the body has only ${body.length} bytes`);
    jsonPart = body.subarray(0, n);
    tail = body.subarray(n);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(jsonPart.toString('utf8'));
  } catch (err) {
    throw new BadRequest(`The inference request is not valid JSON: ${(err as Error).message}`);
  }
  const request = parseInferRequest(raw);

  // An element is at least one byte in either encoding, so the body size bounds every tensor.
  const maxElements = Math.max(body.length, 1);
  let at = 0;
  const tensors = request.inputs.map((input) => {
    const size = input.parameters?.['binary_data_size'];
    if (size === undefined) {
      if (input.data === undefined) throw new BadRequest(`Input "${input.name}" has neither data nor parameters.binary_data_size`);
      return decodeJsonInput(input, maxElements);
    }
    if (input.data !== undefined) throw new BadRequest(`Input "${input.name}" has both data and parameters.binary_data_size`);
    if (headerLength === undefined) throw new BadRequest(`Input "${input.name}" is binary, but the Inference-Header-Content-Length header is missing`);
    if (typeof size !== 'number' || !Number.isSafeInteger(size) || size < 0) {
      throw new BadRequest(`Input "${input.name}": binary_data_size must be a non-negative integer`);
    }
    if (at + size > tail.length) throw new BadRequest(`Input "${input.name}": binary_data_size ${size} runs past the end of the body`);
    const bytes = tail.subarray(at, at + size);
    at += size;
    return decodeBinaryInput(input, bytes, maxElements);
  });
  if (at !== tail.length) throw new BadRequest(`The body has ${tail.length - at} bytes after the last binary input`);

  const allBinary = request.parameters?.['binary_data_output'] === true;
  const perOutput = new Map((request.outputs ?? []).map((o) => [o.name, o.parameters?.['binary_data']]));
  return {
    request,
    tensors,
    requestedOutputs: request.outputs?.map((o) => o.name),
    wantsBinary: (name) => {
      const own = perOutput.get(name);
      return typeof own === 'boolean' ? own : allBinary;
    },
  };
}

export interface EncodedInferResponse {
  body: Buffer;
  contentType: string;
  /** Set when some outputs are binary: the JSON header's length. */
  headerLength?: number;
}

export function encodeInferResponse(
  head: { model_name: string; model_version: string; id?: string | undefined; parameters?: V2Parameters | undefined },
  outputs: NamedTensor[],
  wantsBinary: (name: string) => boolean,
): EncodedInferResponse {
  const binaries: Buffer[] = [];
  const encoded: V2InferOutput[] = outputs.map((tensor) => {
    if (!wantsBinary(tensor.name)) return encodeJsonOutput(tensor);
    const bytes = encodeBinaryOutput(tensor);
    binaries.push(bytes);
    const parameters: V2Parameters = { ...(tensor.parameters as V2Parameters | undefined), binary_data_size: bytes.length };
    return { name: tensor.name, datatype: tensor.datatype, shape: tensor.shape, parameters };
  });
  const response: V2InferResponse = { model_name: head.model_name, model_version: head.model_version, outputs: encoded };
  if (head.id !== undefined) response.id = head.id;
  if (head.parameters !== undefined) response.parameters = head.parameters;
  const json = Buffer.from(JSON.stringify(response));
  if (binaries.length === 0) return { body: json, contentType: 'application/json; charset=utf-8' };
  return { body: Buffer.concat([json, ...binaries]), contentType: 'application/octet-stream', headerLength: json.length };
}
