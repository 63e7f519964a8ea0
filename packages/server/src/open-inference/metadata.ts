import { ModelNotReady } from '../errors.js';
import type { ModelRegistry, TensorMetadata } from '../models/types.js';
import { SERVER_NAME, SERVER_VERSION } from '../version.js';

export interface ServerMetadata {
  name: string;
  version: string;
  extensions: string[];
}

export interface ModelMetadataAnswer {
  name: string;
  /** Every version of the model the server holds. */
  versions: string[];
  platform: string;
  inputs: TensorMetadata[];
  outputs: TensorMetadata[];
}

/** The server's name and version, with the protocol extensions the front door answering supports. */
export function serverMetadata(extensions: string[]): ServerMetadata {
  return { name: SERVER_NAME, version: SERVER_VERSION, extensions };
}

/**
 * A model version's tensors as its handler describes them (`ModelNotReady` until a worker has loaded
 * it; `ModelNotFound` for a name or version the server does not hold).
 */
export function modelMetadata(registry: ModelRegistry, model: string, version: string | undefined): ModelMetadataAnswer {
  const handle = registry.resolve(model, version);
  const described = handle.metadata;
  if (described === undefined) throw new ModelNotReady(handle.name, 'its metadata is known once a worker has loaded it');
  const versions = registry.list().find((m) => m.name === handle.name)?.versions.map((v) => v.version) ?? [handle.version];
  return {
    name: handle.name,
    versions,
    platform: described.platform ?? 'onnxruntime_onnx',
    inputs: described.inputs,
    outputs: described.outputs,
  };
}
