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

const { workers, batchSize, maxBatchDelayMs, responseTimeoutS } = MODEL_LIMITS;

/** The model config's limits, so a register call can ask for nothing an archive could not. */
export const RegisterQuerySchema = z.object({
  url: text(2048),
  model_name: text(128).optional(),
  initial_workers: int(workers.min, workers.max).optional(),
  batch_size: int(batchSize.min, batchSize.max).optional(),
  max_batch_delay: int(maxBatchDelayMs.min, maxBatchDelayMs.max).optional(),
  response_timeout: decimal(responseTimeoutS.max).optional(),
  synchronous: bool.default(false),
});
export type RegisterQuery = z.infer<typeof RegisterQuerySchema>;

export const ScaleQuerySchema = z
  .object({
    min_worker: int(workers.min, workers.max).default(1),
    max_worker: int(workers.min, workers.max).optional(),
    synchronous: bool.default(false),
  })
  // TorchServe's default: as many as min_worker (so min_worker=0 leaves none).
  .transform((q) => ({ ...q, max_worker: q.max_worker ?? q.min_worker }))
  .superRefine((q, ctx) => {
    if (q.max_worker < q.min_worker) ctx.addIssue({ code: 'custom', path: ['max_worker'], message: `must be at least min_worker (${q.min_worker})` });
  });
export type ScaleQuery = z.infer<typeof ScaleQuerySchema>;

export const MAX_PAGE_SIZE = 1000;

export const ListQuerySchema = z.object({
  limit: int(1, MAX_PAGE_SIZE).default(100),
  next_page_token: text(1024).optional(),
});

/**
 * Parses query parameters, turning the first problem into a 400 that names the parameter and the
 * value it was given: `Parameter min_worker must be an integer, got "abc"`.
 */
export function parseQuery<S extends z.ZodType>(schema: S, query: unknown): z.infer<S> {
  const given = (query ?? {}) as Record<string, unknown>;
  const parsed = schema.safeParse(given);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  const name = issue?.path.join('.') ?? '';
  if (name === '') throw new BadRequest(`Invalid query: ${issue?.message ?? 'is invalid'}`);
  // The value is looked up here: zod does not keep the input it failed on.
  const raw: unknown = last(given[name]);
  if (raw === undefined) throw new BadRequest(`Parameter ${name} is required`);
  throw new BadRequest(`Parameter ${name} ${issue?.message ?? 'is invalid'}, got ${JSON.stringify(raw)}`);
}
