import { TENSOR_DATATYPES } from '@nodeserve/handler-sdk/datatypes';
import { z } from 'zod';

/** Bounds on what a v2 request may declare, on top of the body size limit. */
export const V2_LIMITS = {
  maxInputs: 64,
  maxOutputs: 64,
  maxDims: 16,
  maxParameters: 64,
  maxNestingDepth: 32,
} as const;

export const V2DatatypeSchema = z.enum(TENSOR_DATATYPES);
export type V2Datatype = z.infer<typeof V2DatatypeSchema>;

export const V2ParametersSchema = z
  .record(z.string().max(128), z.union([z.string().max(4096), z.number(), z.boolean()]))
  .refine((p) => Object.keys(p).length <= V2_LIMITS.maxParameters, `at most ${V2_LIMITS.maxParameters} parameters`);
export type V2Parameters = z.infer<typeof V2ParametersSchema>;

const TensorNameSchema = z.string().min(1).max(256);
const ShapeSchema = z.array(z.number().int().min(0).max(2 ** 31 - 1)).max(V2_LIMITS.maxDims);

export const V2InferInputSchema = z.object({
  name: TensorNameSchema,
  shape: ShapeSchema,
  datatype: V2DatatypeSchema,
  parameters: V2ParametersSchema.optional(),
  /** Row-major, flat or nested; absent when the tensor travels in the binary part of the body. */
  data: z.array(z.unknown()).optional(),
});
export type V2InferInput = z.infer<typeof V2InferInputSchema>;

export const V2RequestedOutputSchema = z.object({
  name: TensorNameSchema,
  parameters: V2ParametersSchema.optional(),
});

export const V2InferRequestSchema = z.object({
  id: z.string().max(256).optional(),
  parameters: V2ParametersSchema.optional(),
  inputs: z.array(V2InferInputSchema).min(1).max(V2_LIMITS.maxInputs),
  outputs: z.array(V2RequestedOutputSchema).max(V2_LIMITS.maxOutputs).optional(),
});
export type V2InferRequest = z.infer<typeof V2InferRequestSchema>;

export const V2InferOutputSchema = z.object({
  name: z.string(),
  shape: z.array(z.number().int()),
  datatype: V2DatatypeSchema,
  parameters: V2ParametersSchema.optional(),
  data: z.array(z.union([z.number(), z.string(), z.boolean()])).optional(),
});
export type V2InferOutput = z.infer<typeof V2InferOutputSchema>;

export const V2InferResponseSchema = z.object({
  model_name: z.string(),
  model_version: z.string().optional(),
  id: z.string().optional(),
  parameters: V2ParametersSchema.optional(),
  outputs: z.array(V2InferOutputSchema),
});
export type V2InferResponse = z.infer<typeof V2InferResponseSchema>;

export const V2ErrorSchema = z.object({ error: z.string() });
