import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { MethodDefinition, ServiceDefinition } from '@grpc/grpc-js';
import { loadSync, type Options } from '@grpc/proto-loader';
import { StartupFailed } from '../errors.js';

export const PROTO_FILE = 'grpc_predict_v2.proto';
export const SERVICE_NAME = 'inference.GRPCInferenceService';

/**
 * How messages are handed over (see `messages.ts`): the proto's own field names (`model_name`, as
 * KServe's and Triton's clients write them), 64-bit integers as exact decimal strings, repeated fields
 * and maps always present, `parameter_choice` naming the set member of a oneof.
 */
export const LOADER_OPTIONS: Options = { keepCase: true, longs: String, enums: String, arrays: true, objects: true, oneofs: true, defaults: false };

/**
 * The proto file shipped in the package's `proto/` folder: beside `dist/` once built, two levels
 * above this file in the sources.
 */
export function protoPath(): string {
  for (const up of ['../proto/', '../../proto/']) {
    const candidate = fileURLToPath(new URL(up + PROTO_FILE, import.meta.url));
    if (existsSync(candidate)) return candidate;
  }
  throw new StartupFailed(`The gRPC service definition ${PROTO_FILE} is missing from the package's proto/ folder`);
}

/** A request that is not a valid message of its method's type: answered INVALID_ARGUMENT by the handler. */
export class MalformedMessage {
  constructor(readonly reason: string) {}
}

/**
 * `inference.GRPCInferenceService` as a service definition for `@grpc/grpc-js`, with two additions: a
 * request that does not decode becomes a `MalformedMessage` for the handler to answer, where grpc-js
 * would answer INTERNAL, a server fault, for what is the client's; and each reply's serialized size
 * is noted in `responseSizes` for the access log.
 */
export function inferenceServiceDefinition(responseSizes: WeakMap<object, number>): ServiceDefinition {
  const definition = loadSync(protoPath(), LOADER_OPTIONS);
  const service = definition[SERVICE_NAME] as ServiceDefinition | undefined;
  if (service === undefined) throw new StartupFailed(`${PROTO_FILE} defines no ${SERVICE_NAME}`);
  const tolerant: Record<string, MethodDefinition<unknown, unknown>> = {};
  for (const [name, method] of Object.entries(service as Record<string, MethodDefinition<unknown, unknown>>)) {
    const decode = method.requestDeserialize;
    const encode = method.responseSerialize;
    tolerant[name] = {
      ...method,
      requestDeserialize: (bytes: Buffer) => {
        try {
          return decode(bytes);
        } catch (error) {
          return new MalformedMessage((error as Error).message);
        }
      },
      responseSerialize: (reply: unknown) => {
        const bytes = encode(reply);
        if (typeof reply === 'object' && reply !== null) responseSizes.set(reply, bytes.length);
        return bytes;
      },
    };
  }
  return tolerant;
}
