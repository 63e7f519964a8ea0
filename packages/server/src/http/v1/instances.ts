import { BadRequest, TooManyInstances } from '../../errors.js';

/** Bounds on a KServe v1 `:predict` body, on top of `max_request_size` for its bytes. */
export const V1_LIMITS = {
  /**
   * Instances in one request. Each becomes one job in the model's queue (`job_queue_size`, 100 by
   * default), so one request may not take most of it; a client with more splits them.
   */
  maxInstances: 64,
  /** Arrays and objects inside one JSON instance (as v2's `maxNestingDepth`): deeper ones are refused, not re-serialised. */
  maxNestingDepth: 32,
} as const;

/** One instance as its handler receives it: the bytes of a `/predictions` body and their type. */
export interface DecodedInstance {
  body: Buffer;
  contentType: 'application/json' | 'application/octet-stream';
}

/** The fields TorchServe's KServe envelope and vision handler read base64 bytes from (`row.get("data") or row.get("body")`), and TF Serving's `b64`. */
const BINARY_FIELDS = ['data', 'body', 'b64'] as const;

/**
 * The instances of a v1 `:predict` body: `{"instances": [...]}`, or `{"inputs": [...]}` as KServe
 * also accepts (TF Serving's row format under either name). Other top-level fields (TF Serving's
 * `signature_name`) are ignored, as KServe's TorchServe envelope ignores them.
 * Throws `BadRequest` for a body that is not such an object and `TooManyInstances` past the limit.
 */
export function parsePredictBody(body: Buffer): unknown[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body.toString('utf8'));
  } catch (err) {
    throw new BadRequest(`The predict request is not valid JSON: ${(err as Error).message}`);
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new BadRequest('The predict request must be a JSON object with an "instances" list');
  }
  const { instances, inputs } = parsed as { instances?: unknown; inputs?: unknown };
  if (instances !== undefined && inputs !== undefined) throw new BadRequest('The predict request has both "instances" and "inputs"; send one of them');
  const list = instances ?? inputs;
  const field = instances !== undefined ? 'instances' : 'inputs';
  if (list === undefined) throw new BadRequest('The predict request has no "instances" (or "inputs") list');
  if (!Array.isArray(list)) {
    throw new BadRequest(`Expected "${field}" to be a list (the columnar format, an object of named inputs, is not supported)`);
  }
  if (list.length === 0) throw new BadRequest(`"${field}" is empty: send at least one instance`);
  if (list.length > V1_LIMITS.maxInstances) throw new TooManyInstances(list.length, V1_LIMITS.maxInstances);
  return list;
}

/**
 * What the handler receives for one instance, as if it had been POSTed alone to `/predictions`:
 * - `{"data": "<base64>"}` (or `"body"`, or TF Serving's `{"b64": …}`): the decoded bytes, the way
 *   TorchServe's KServe envelope hands `{"data": …}` rows to its vision handler, which base64-decodes
 *   them. Such an instance holds nothing else; options for every instance go in the query string.
 * - anything else (a number list, a string, an object of named fields): a JSON body holding the
 *   instance, which the handler reads as `json`.
 * Throws `BadRequest` naming the instance (`index` counts from 0) when it cannot be decoded.
 */
export function decodeInstance(instance: unknown, index: number): DecodedInstance {
  const where = `Instance ${index}`;
  if (instance !== null && typeof instance === 'object' && !Array.isArray(instance)) {
    const fields = Object.keys(instance);
    const values = instance as Record<string, unknown>;
    if (Object.hasOwn(values, 'b64') && typeof values['b64'] !== 'string') throw new BadRequest(`${where}: "b64" must be a base64 string`);
    const binary = BINARY_FIELDS.find((name) => typeof values[name] === 'string');
    if (binary !== undefined) {
      const others = fields.filter((name) => name !== binary);
      if (others.length > 0) {
        throw new BadRequest(
          `${where}: "${binary}" holds the input's base64 bytes, so the instance can hold no other field (${others.map((f) => `"${f}"`).join(', ')}); ` +
            'put options for every instance in the query string (?topk=3)',
        );
      }
      return { body: decodeBase64(values[binary] as string, `${where}: "${binary}"`), contentType: 'application/octet-stream' };
    }
  }
  checkDepth(instance, where);
  return { body: Buffer.from(JSON.stringify(instance)), contentType: 'application/json' };
}

const DATA_URL = /^data:[\w.+-]+\/[\w.+-]+(?:;[\w.+-]+=[\w.+-]+)*;base64,/;
const BASE64 = /^[A-Za-z0-9+/_-]*={0,2}$/;

/**
 * Base64 as clients write it: the standard or URL-safe alphabet, padded or not, line breaks
 * allowed (`base64` wraps at 76 columns), a `data:<type>;base64,` prefix allowed. Anything else is a
 * 400, never bytes silently dropped (Node's decoder skips characters it does not know).
 */
export function decodeBase64(text: string, what: string): Buffer {
  const compact = text.replace(DATA_URL, '').replace(/[\t\n\r ]/g, '');
  const padded = compact.endsWith('=');
  const valid = BASE64.test(compact) && (padded ? compact.length % 4 === 0 : compact.length % 4 !== 1);
  if (!valid) throw new BadRequest(`${what} is not valid base64`);
  return Buffer.from(compact, 'base64');
}

/** Refuses JSON nested deeper than the limit, without recursion (a deep document must not exhaust the stack). */
function checkDepth(value: unknown, where: string): void {
  const stack: Array<{ value: unknown; depth: number }> = [{ value, depth: 0 }];
  while (stack.length > 0) {
    const { value: item, depth } = stack.pop() as { value: unknown; depth: number };
    if (item === null || typeof item !== 'object') continue;
    if (depth >= V1_LIMITS.maxNestingDepth) throw new BadRequest(`${where} is nested more than ${V1_LIMITS.maxNestingDepth} levels deep`);
    for (const child of Object.values(item)) if (child !== null && typeof child === 'object') stack.push({ value: child, depth: depth + 1 });
  }
}
