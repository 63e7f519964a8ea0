import { MODEL_LIMITS } from '@nodeserve/archiver/manifest';
import { z } from 'zod';
import { BadRequest } from '../../errors.js';

/** Query values arrive as strings (the last one wins when a name repeats). */
const last = (v: unknown) => (Array.isArray(v) ? v[v.length - 1] : v);
const int = (min: number, max: number) =>
  z.preprocess(
    (v) => {
      const s = last(v);
      return typeof s === 'string' && /^\s*-?\d+\s*$/.test(s) ? Number(s) : s;
    },
    z.number({ error: 'must be an integer' }).int('must be an integer').min(min, `must be at least ${min}`).max(max, `must be at most ${max}`),
  );
const decimal = (max: number) =>
  z.preprocess(
    (v) => {
      const s = last(v);
      return typeof s === 'string' && /^\s*\d+(\.\d+)?\s*$/.test(s) ? Number(s) : s;
    },
    z.number({ error: 'must be a number' }).positive('must be more than 0').max(max, `must be at most ${max}`),
  );
const bool = z.preprocess((v) => {
  const s = last(v);
  return typeof s === 'string' && /^(true|false)$/i.test(s) ? s.toLowerCase() === 'true' : s;
}, z.boolean({ error: 'must be true or false' }));
const text = (max: number) =>
  z.preprocess(last, z.string({ error: 'must be text' }).min(1, 'must not be empty').max(max, `must be at most ${max} characters`));

/**
 * TorchServe's `timeout` on scaling down or unregistering: `-1` waits for the workers' requests, which
 * is what this server always does; a bound (`0` kills at once) cannot be honoured.
 */
const waitForever = z.preprocess(last, z.literal('-1', { error: 'can only be -1 here: workers always finish the requests they hold before they stop' }));

const { workers, batchSize, maxBatchDelayMs, responseTimeoutS } = MODEL_LIMITS;

/**
 * `POST /models`. The model config's limits, so a register call can ask for nothing an archive could
 * not. `synchronous` defaults to true, as TorchServe's code has it (its docs say false): the answer is
 * 200 once the workers are up.
 */
export const RegisterQuerySchema = z.strictObject({
  url: text(2048),
  model_name: text(128).optional(),
  initial_workers: int(workers.min, workers.max).optional(),
  batch_size: int(batchSize.min, batchSize.max).optional(),
  max_batch_delay: int(maxBatchDelayMs.min, maxBatchDelayMs.max).optional(),
  response_timeout: decimal(responseTimeoutS.max).optional(),
  synchronous: bool.default(true),
  /** Accepted when it names the runtime the archive has: `node`, the only one served. */
  runtime: z.preprocess(last, z.string().refine((r) => r.toLowerCase() === 'node', 'must be node: handlers run on Node.js here (archives record runtime "node")')).optional(),
});
export type RegisterQuery = z.infer<typeof RegisterQuerySchema>;

export const ScaleQuerySchema = z
  .strictObject({
    min_worker: int(workers.min, workers.max).default(1),
    max_worker: int(workers.min, workers.max).optional(),
    synchronous: bool.default(false),
    /** The version, when the path names none (TorchServe's `model_version`). */
    model_version: text(128).optional(),
    timeout: waitForever.optional(),
  })
  // TorchServe's default: as many as min_worker (so min_worker=0 leaves none).
  .transform((q) => ({ ...q, max_worker: q.max_worker ?? q.min_worker }))
  .superRefine((q, ctx) => {
    if (q.max_worker < q.min_worker) ctx.addIssue({ code: 'custom', path: ['max_worker'], message: `must be at least min_worker (${q.min_worker})` });
  });
export type ScaleQuery = z.infer<typeof ScaleQuerySchema>;

export const UnregisterQuerySchema = z.strictObject({
  /** `true` (default): answer once the version's requests are answered and its workers ended; `false`: 202 at once. */
  synchronous: bool.default(true),
  timeout: waitForever.optional(),
});

export const DescribeQuerySchema = z.strictObject({
  customized: z.preprocess(last, z.literal('false', { error: 'is not supported: customized metadata is not provided; GET /v2/models/{name} on the inference address gives the model\'s metadata' })).optional(),
});

export const MAX_PAGE_SIZE = 1000;

export const ListQuerySchema = z.strictObject({
  limit: int(1, MAX_PAGE_SIZE).default(100),
  next_page_token: text(1024).optional(),
});

export const NoQuerySchema = z.strictObject({});

/**
 * Why a TorchServe parameter this server does not take is refused: each is a 400 naming it, never
 * silently dropped (a client relying on it would otherwise get something else than it asked for).
 */
const UNSUPPORTED: Readonly<Record<string, string>> = {
  handler: 'the handler is compiled into the archive (model-archiver --handler) and cannot be swapped at registration',
  startup_timeout: "set startupTimeout in the archive's config (model-archiver --config-file) or default_startup_timeout",
  s3_sse_kms: 'archives are not fetched from S3',
  number_gpu: "a model's GPUs come from number_of_gpu and the archive's deviceIds",
};

/**
 * Parses query parameters, turning the first problem into a 400 that names the parameter and the
 * value it was given: `Parameter min_worker must be an integer, got "abc"`. An empty value counts as
 * absent (`?limit=&next_page_token=` lists with the defaults), as in TorchServe; a parameter the
 * schema does not know is refused by name.
 */
export function parseQuery<S extends z.ZodType>(schema: S, query: unknown): z.infer<S> {
  const given = Object.fromEntries(
    Object.entries((query ?? {}) as Record<string, unknown>).filter(([, value]) => last(value) !== ''),
  );
  const parsed = schema.safeParse(given);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  if (issue?.code === 'unrecognized_keys') {
    const name = issue.keys[0] ?? '';
    const why = UNSUPPORTED[name];
    throw new BadRequest(`Parameter ${name} is not supported${why === undefined ? ' by this endpoint' : `: ${why}`}`);
  }
  const name = issue?.path.join('.') ?? '';
  if (name === '') throw new BadRequest(`Invalid query: ${issue?.message ?? 'is invalid'}`);
  // The value is looked up here: zod does not keep the input it failed on.
  const raw: unknown = last(given[name]);
  if (raw === undefined) throw new BadRequest(`Parameter ${name} is required`);
  throw new BadRequest(`Parameter ${name} ${issue?.message ?? 'is invalid'}, got ${JSON.stringify(raw)}`);
}
