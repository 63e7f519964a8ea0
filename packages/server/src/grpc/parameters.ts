import { BadRequest } from '../errors.js';
import type { V2Parameters } from '../open-inference/index.js';
import type { InferParameter, InferParameters } from './messages.js';

/**
 * A request's `map<string, InferParameter>` as the protocol's plain parameters (what the REST API
 * carries as JSON), or `undefined` when empty. An `int64_param` must be exact as a number (±2^53-1);
 * a parameter with no value set is refused, naming `where` it is.
 */
export function fromInferParameters(parameters: InferParameters, where: string): V2Parameters | undefined {
  const entries = Object.entries(parameters);
  if (entries.length === 0) return undefined;
  const out: V2Parameters = {};
  for (const [key, parameter] of entries) {
    switch (parameter.parameter_choice) {
      case 'bool_param':
        out[key] = parameter.bool_param === true;
        break;
      case 'string_param':
        out[key] = parameter.string_param ?? '';
        break;
      case 'int64_param': {
        const value = Number(parameter.int64_param);
        if (!Number.isSafeInteger(value)) throw new BadRequest(`${where}.${key}: int64_param ${String(parameter.int64_param)} is beyond ±2^53-1`);
        out[key] = value;
        break;
      }
      default:
        throw new BadRequest(`${where}.${key} has no value: set bool_param, int64_param or string_param`);
    }
  }
  return out;
}

/**
 * Plain parameters as `InferParameter`s. The proto has no floating-point parameter, so a fractional
 * number is sent as its decimal `string_param`.
 */
export function toInferParameters(parameters: V2Parameters): InferParameters {
  const out: InferParameters = {};
  for (const [key, value] of Object.entries(parameters)) out[key] = toInferParameter(value);
  return out;
}

function toInferParameter(value: string | number | boolean): InferParameter {
  if (typeof value === 'boolean') return { bool_param: value };
  if (typeof value === 'number' && Number.isSafeInteger(value)) return { int64_param: value };
  return { string_param: String(value) };
}
