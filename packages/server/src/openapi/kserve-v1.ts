import { V1_LIMITS } from '../http/v1/instances.js';

/**
 * The KServe v1 routes of the OpenAPI document (`document.ts` merges them into the inference API's
 * paths and schemas). `V1Error` is KServe's `{"error"}`.
 */

type Schema = Record<string, unknown>;

const ref = (name: string): Schema => ({ $ref: `#/components/schemas/${name}` });
const json = (schema: Schema, description: string) => ({ description, content: { 'application/json': { schema } } });
const v1Error = (description: string) => json(ref('V1Error'), description);
const modelName = { name: 'model_name', in: 'path', required: true, description: 'Model name (its default version serves)', schema: { type: 'string' } };
const unauthorized = { '401': v1Error('Token authorization is on and the request lacks the inference key') };

export const v1Schemas: Record<string, Schema> = {
  V1Error: { type: 'object', required: ['error'], properties: { error: { type: 'string' } } },
  V1PredictRequest: {
    type: 'object',
    description: 'One of `instances` or `inputs` (the same list under KServe’s other name)',
    properties: {
      instances: {
        type: 'array',
        minItems: 1,
        maxItems: V1_LIMITS.maxInstances,
        description:
          'Each instance is one request to the handler: `{"data": "<base64>"}` (or `"body"`, or `{"b64": …}`) is sent as those bytes, as a body to /predictions; any other JSON value is sent as a JSON body',
        items: {},
      },
      inputs: { type: 'array', minItems: 1, maxItems: V1_LIMITS.maxInstances, items: {} },
    },
  },
  V1PredictResponse: {
    type: 'object',
    required: ['predictions'],
    properties: {
      predictions: {
        type: 'array',
        description: 'One per instance, in order: the handler’s JSON answer; bytes as `{"b64", "content_type"}`; tensors as `{"outputs"}`',
        items: {},
      },
    },
  },
  V1ModelReady: { type: 'object', required: ['name', 'ready'], properties: { name: { type: 'string' }, ready: { type: 'boolean' } } },
};

export const v1Paths = {
  '/': { get: { summary: 'KServe v1 liveness (open without a key)', responses: { '200': json({ type: 'object', properties: { status: { type: 'string', enum: ['alive'] } } }, 'Alive') } } },
  '/v1/models': {
    get: { summary: 'KServe v1: the names of the models served', responses: { '200': json({ type: 'object', required: ['models'], properties: { models: { type: 'array', items: { type: 'string' } } } }, 'Model names'), ...unauthorized } },
  },
  '/v1/models/{model_name}': {
    get: {
      summary: 'KServe v1 model readiness: ready only while its default version has live workers',
      parameters: [modelName],
      responses: { '200': json(ref('V1ModelReady'), 'Ready'), '503': json(ref('V1ModelReady'), 'Not ready'), '404': v1Error('No such model'), ...unauthorized },
    },
  },
  '/v1/models/{model_name}:predict': {
    post: {
      summary: 'KServe v1 predict: each instance is queued and batched as its own request; one prediction per instance, in order',
      parameters: [modelName],
      requestBody: { required: true, content: { 'application/json': { schema: ref('V1PredictRequest') } } },
      responses: {
        '200': json(ref('V1PredictResponse'), 'Predictions'),
        '400': v1Error('Invalid JSON, no instances, more than the limit (TooManyInstances), bad base64, or the handler refused an instance (the message names it)'),
        '404': v1Error('No such model'),
        '413': v1Error('Body larger than max_request_size'),
        '503': v1Error('Queue full or no live worker (Retry-After set)'),
        '504': v1Error('Handler exceeded its response timeout'),
        ...unauthorized,
      },
    },
  },
  '/v1/models/{model_name}:explain': {
    post: { summary: 'KServe v1 explain: not supported', parameters: [modelName], responses: { '404': v1Error('No such model'), '501': v1Error('Explanations are not supported (ExplainNotSupported)'), ...unauthorized } },
  },
};
