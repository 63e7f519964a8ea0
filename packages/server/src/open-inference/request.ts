import { BadRequest } from '../errors.js';
import { V2InferRequestSchema, type V2InferRequest } from './schemas.js';

/**
 * Checks an infer request against the protocol's bounds, whichever front door it came through (the
 * REST body's JSON, or a gRPC `ModelInferRequest` in the same shape): at least one input, names
 * unique, shapes, datatypes and parameters within `V2_LIMITS`. The first problem becomes a
 * `BadRequest` naming its path (`inputs.0.datatype`).
 */
export function parseInferRequest(raw: unknown): V2InferRequest {
  const parsed = V2InferRequestSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new BadRequest(`Invalid inference request at ${issue?.path.join('.') || '(root)'}: ${issue?.message ?? 'invalid'}`);
  }
  const request = parsed.data;
  const names = new Set<string>();
  for (const input of request.inputs) {
    if (names.has(input.name)) throw new BadRequest(`Input "${input.name}" appears twice`);
    names.add(input.name);
  }
  return request;
}
