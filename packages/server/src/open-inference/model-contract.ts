import type { NamedTensor } from '@nodeserve/handler-sdk';
import { BadRequest, InvalidHandlerOutput } from '../errors.js';
import type { ModelVersionHandle, TensorMetadata } from '../models/types.js';

/**
 * What a model's metadata advertises (`GET /v2/models/{m}`, gRPC `ModelMetadata`) is a contract, held
 * on both sides and by both front doors: a request names only inputs the model has, with their
 * datatypes, and outputs it has; an answer carries only advertised outputs, with the advertised
 * datatype and shape (-1: any size). Triton holds requests to it the same way. A model whose handler
 * describes nothing (no `describe()`) has nothing to check against.
 */

const list = (tensors: readonly TensorMetadata[]) => tensors.map((t) => `"${t.name}"`).join(', ');
const show = (t: { datatype: string; shape: readonly number[] }) => `${t.datatype} [${t.shape.join(',')}]`;

/** Every input is one the model has, of its datatype: an extra or misnamed input is a 400, never ignored. */
export function checkInputs(handle: ModelVersionHandle, tensors: readonly NamedTensor[]): void {
  const inputs = handle.metadata?.inputs ?? [];
  if (inputs.length === 0) return;
  for (const tensor of tensors) {
    const declared = inputs.find((i) => i.name === tensor.name);
    if (declared === undefined) throw new BadRequest(`Model "${handle.name}" has no input "${tensor.name}"; its inputs are ${list(inputs)}`);
    if (declared.datatype !== tensor.datatype) {
      throw new BadRequest(`Input "${tensor.name}" of model "${handle.name}" is ${declared.datatype}, not ${tensor.datatype}`);
    }
  }
}

/** The outputs a request asks for exist. */
export function checkRequestedOutputs(handle: ModelVersionHandle, requested: readonly string[] | undefined): void {
  const outputs = handle.metadata?.outputs ?? [];
  if (requested === undefined || outputs.length === 0) return;
  for (const name of requested) {
    if (!outputs.some((o) => o.name === name)) throw new BadRequest(`Model "${handle.name}" has no output "${name}"; its outputs are ${list(outputs)}`);
  }
}

function fits(declared: readonly number[], actual: readonly number[]): boolean {
  return declared.length === actual.length && declared.every((d, i) => d === -1 || d === actual[i]);
}

/** The answer is what the metadata promised; a handler that breaks its own `describe()` fails the request (500). */
export function checkOutputs(handle: ModelVersionHandle, outputs: readonly NamedTensor[]): void {
  const declared = handle.metadata?.outputs ?? [];
  if (declared.length === 0) return;
  for (const output of outputs) {
    const promised = declared.find((o) => o.name === output.name);
    if (promised === undefined || promised.datatype !== output.datatype || !fits(promised.shape, output.shape)) {
      const advertised = promised === undefined ? `advertises no such output (its outputs are ${list(declared)})` : `advertises ${show(promised)}`;
      throw new InvalidHandlerOutput(
        `Model "${handle.name}" answered output "${output.name}" as ${show(output)}, but its metadata ${advertised}: ` +
          "the handler's describe() must list what it returns",
      );
    }
  }
}
