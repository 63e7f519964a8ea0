import { MODEL_LIMITS } from '@nodeserve/archiver/manifest';
import { TENSOR_DATATYPES } from '@nodeserve/handler-sdk/datatypes';
import { MAX_PAGE_SIZE } from '../http/management/query.js';
import { SERVER_NAME, SERVER_VERSION } from '../version.js';
import { v1Paths, v1Schemas } from './kserve-v1.js';

type Schema = Record<string, unknown>;

const json = (schema: Schema, description: string) => ({ description, content: { 'application/json': { schema } } });
const ref = (name: string): Schema => ({ $ref: `#/components/schemas/${name}` });
const error = (description: string) => json(ref('Error'), description);
const v2Error = (description: string) => json(ref('V2Error'), description);
const status = (description: string) => json(ref('Status'), description);
const pathParam = (name: string, description: string) => ({ name, in: 'path', required: true, description, schema: { type: 'string' } });
const queryParam = (name: string, description: string, schema: Schema, required = false) => ({ name, in: 'query', required, description, schema });

const modelName = pathParam('model_name', 'Model name');
const modelVersion = pathParam('model_version', 'Model version');
const unauthorized = { '401': error('Token authorization is on and the request lacks the right key') };

const schemas: Record<string, Schema> = {
  Error: {
    type: 'object',
    required: ['code', 'type', 'message'],
    properties: { code: { type: 'integer', description: 'HTTP status' }, type: { type: 'string', description: 'Stable error code' }, message: { type: 'string' } },
  },
  V2Error: { type: 'object', required: ['error'], properties: { error: { type: 'string' } } },
  Status: { type: 'object', required: ['status'], properties: { status: { type: 'string' } } },
  ModelList: {
    type: 'object',
    required: ['models'],
    properties: {
      nextPageToken: { type: 'string', description: 'Pass as next_page_token for the next page; absent on the last page' },
      models: {
        type: 'array',
        items: {
          type: 'object',
          properties: {
            modelName: { type: 'string' },
            modelUrl: { type: 'string' },
            defaultVersion: { type: 'string' },
            versions: { type: 'array', items: { type: 'string' } },
          },
        },
      },
    },
  },
  ModelDescription: {
    type: 'object',
    properties: {
      modelName: { type: 'string' },
      modelVersion: { type: 'string' },
      modelUrl: { type: 'string' },
      runtime: { type: 'string' },
      isDefault: { type: 'boolean' },
      ready: { type: 'boolean' },
      minWorkers: { type: 'integer' },
      maxWorkers: { type: 'integer' },
      batchSize: { type: 'integer' },
      maxBatchDelay: { type: 'integer', description: 'Milliseconds' },
      responseTimeout: { type: 'number', description: 'Seconds' },
      retryOnWorkerFailure: { type: 'boolean', description: 'Requests of a batch whose worker dies or times out are tried once more, each alone' },
      description: { type: 'string' },
      workers: {
        type: 'array',
        items: {
          type: 'object',
          properties: {
            id: { type: 'string' },
            pid: { type: 'integer', nullable: true },
            status: { type: 'string', enum: ['STARTING', 'READY', 'BUSY', 'STOPPING', 'DEAD'] },
            startTime: { type: 'string', format: 'date-time' },
            restarts: { type: 'integer' },
            memoryUsage: { type: 'integer', nullable: true, description: 'Resident bytes' },
            gpu: { type: 'boolean' },
            gpuId: { type: 'integer', nullable: true },
          },
        },
      },
      jobQueueStatus: {
        type: 'object',
        properties: { remainingCapacity: { type: 'integer' }, pendingRequests: { type: 'integer' } },
      },
    },
  },
  V2Tensor: {
    type: 'object',
    required: ['name', 'shape', 'datatype'],
    properties: {
      name: { type: 'string' },
      shape: { type: 'array', items: { type: 'integer' } },
      datatype: { type: 'string', enum: [...TENSOR_DATATYPES] },
      parameters: { type: 'object', additionalProperties: true, description: 'binary_data_size; content_type: "base64" for base64 BYTES' },
      data: { type: 'array', items: {}, description: 'Row-major, flat or nested; absent when sent as binary' },
    },
  },
  V2InferRequest: {
    type: 'object',
    required: ['inputs'],
    properties: {
      id: { type: 'string' },
      parameters: { type: 'object', additionalProperties: true, description: 'binary_data_output: true returns every output as binary' },
      inputs: { type: 'array', items: ref('V2Tensor') },
      outputs: {
        type: 'array',
        items: { type: 'object', required: ['name'], properties: { name: { type: 'string' }, parameters: { type: 'object', additionalProperties: true } } },
      },
    },
  },
  V2InferResponse: {
    type: 'object',
    required: ['model_name', 'outputs'],
    properties: {
      model_name: { type: 'string' },
      model_version: { type: 'string' },
      id: { type: 'string' },
      parameters: { type: 'object', additionalProperties: true },
      outputs: { type: 'array', items: ref('V2Tensor') },
    },
  },
  V2ModelMetadata: {
    type: 'object',
    properties: {
      name: { type: 'string' },
      versions: { type: 'array', items: { type: 'string' } },
      platform: { type: 'string' },
      inputs: { type: 'array', items: { type: 'object', properties: { name: { type: 'string' }, datatype: { type: 'string' }, shape: { type: 'array', items: { type: 'integer' }, description: '-1 marks a dynamic dimension' } } } },
      outputs: { type: 'array', items: { type: 'object', properties: { name: { type: 'string' }, datatype: { type: 'string' }, shape: { type: 'array', items: { type: 'integer' } } } } },
    },
  },
};

const customized = queryParam('customized', 'Only false: customized metadata is not provided (GET /v2/models/{model_name} gives the model metadata)', { type: 'boolean', enum: [false] });

const describeResponses = {
  '200': json({ type: 'array', items: ref('ModelDescription') }, 'The model version(s)'),
  '400': error('Unsupported parameter (named in the message)'),
  '404': error('No such model or version'),
  ...unauthorized,
};

const scale = {
  summary: 'Scale a model version’s workers live; queued and running requests keep being answered',
  parameters: [
    queryParam('min_worker', 'Workers to keep running', { type: 'integer', minimum: MODEL_LIMITS.workers.min, maximum: MODEL_LIMITS.workers.max, default: 1 }),
    queryParam('max_worker', 'Most workers (default: min_worker)', { type: 'integer', minimum: MODEL_LIMITS.workers.min, maximum: MODEL_LIMITS.workers.max }),
    queryParam('synchronous', 'Answer once the pool has reached the new size', { type: 'boolean', default: false }),
    queryParam('model_version', 'The version, when the path names none', { type: 'string' }),
    queryParam('timeout', 'Only -1: retired workers always finish the requests they hold', { type: 'integer', enum: [-1] }),
  ],
  responses: { '200': status('Scaled'), '202': status('Scaling started'), '400': error('Invalid or unsupported parameter (named in the message)'), '404': error('No such model or version'), ...unauthorized },
};

const unregister = {
  summary: 'Unregister a model version: stops routing to it, answers its queued and running requests, then ends its workers',
  parameters: [
    queryParam('synchronous', 'Answer once the version is gone (default), or at once with 202', { type: 'boolean', default: true }),
    queryParam('timeout', 'Only -1: the workers always finish the requests they hold', { type: 'integer', enum: [-1] }),
  ],
  responses: {
    '200': status('Unregistered'),
    '202': status('Unregistering started'),
    '400': error('Invalid or unsupported parameter (named in the message)'),
    '404': error('No such model or version'),
    '405': error('enable_model_api is false'),
    ...unauthorized,
  },
};

const inferencePaths = {
  '/ping': { get: { summary: 'Health: 200 when every model has its minimum of live workers, else 500', responses: { '200': json({ type: 'object' }, 'Healthy'), '500': json({ type: 'object' }, 'Unhealthy') } } },
  '/predictions/{model_name}': {
    post: {
      summary: 'Predict with the default version; the body (raw, base64 text of an image, a multipart form with every field, or JSON) goes to the handler',
      parameters: [modelName],
      requestBody: { content: { 'application/octet-stream': {}, 'image/*': {}, 'multipart/form-data': {}, 'application/json': {} } },
      responses: {
        '200': { description: 'The handler’s answer' },
        '400': error('The handler refused the input'),
        '404': error('No such model'),
        '413': error('Body larger than max_request_size, or a multipart form over its limits (the message names the limit)'),
        '503': error('Queue full or no live worker (Retry-After set)'),
        '504': error('Handler exceeded its response timeout'),
        '507': error('The answer is larger than max_response_size'),
        ...unauthorized,
      },
    },
  },
  '/predictions/{model_name}/{model_version}': {
    post: { summary: 'Predict with a given version', parameters: [modelName, modelVersion], responses: { '200': { description: 'The handler’s answer' }, '404': error('No such model or version'), ...unauthorized } },
  },
  '/v2': { get: { summary: 'Server metadata', responses: { '200': json({ type: 'object', properties: { name: { type: 'string' }, version: { type: 'string' }, extensions: { type: 'array', items: { type: 'string' } } } }, 'Metadata'), ...unauthorized } } },
  '/v2/health/live': { get: { summary: 'Liveness (open without a key)', responses: { '200': json({ type: 'object', properties: { live: { type: 'boolean' } } }, 'Live') } } },
  '/v2/health/ready': {
    get: {
      summary: 'Readiness (open without a key): every model has its minimum of live workers and the server is not draining',
      responses: { '200': json({ type: 'object', properties: { ready: { type: 'boolean' } } }, 'Ready'), '503': json({ type: 'object', properties: { ready: { type: 'boolean' } } }, 'Not ready') },
    },
  },
  '/v2/models/{model_name}': { get: { summary: 'Model metadata of the default version, from the model itself', parameters: [modelName], responses: { '200': json(ref('V2ModelMetadata'), 'Metadata'), '404': v2Error('No such model'), '503': v2Error('No worker has loaded the model yet'), ...unauthorized } } },
  '/v2/models/{model_name}/versions/{model_version}': { get: { summary: 'Model metadata of a version', parameters: [modelName, modelVersion], responses: { '200': json(ref('V2ModelMetadata'), 'Metadata'), '404': v2Error('No such model or version'), ...unauthorized } } },
  '/v2/models/{model_name}/ready': { get: { summary: 'Model readiness: ready only while it has live workers', parameters: [modelName], responses: { '200': json({ type: 'object' }, 'Ready'), '503': json({ type: 'object' }, 'Not ready'), '404': v2Error('No such model'), ...unauthorized } } },
  '/v2/models/{model_name}/versions/{model_version}/ready': { get: { summary: 'Model version readiness', parameters: [modelName, modelVersion], responses: { '200': json({ type: 'object' }, 'Ready'), '503': json({ type: 'object' }, 'Not ready'), '404': v2Error('No such model or version'), ...unauthorized } } },
  '/v2/models/{model_name}/infer': {
    post: {
      summary: 'Inference (Open Inference Protocol), with the binary tensor data extension',
      parameters: [modelName, { name: 'Inference-Header-Content-Length', in: 'header', required: false, description: 'Length of the JSON header when binary tensors follow it', schema: { type: 'integer' } }],
      requestBody: { required: true, content: { 'application/json': { schema: ref('V2InferRequest') }, 'application/octet-stream': { description: 'JSON header followed by binary tensors' } } },
      responses: {
        '200': { description: 'Outputs', content: { 'application/json': { schema: ref('V2InferResponse') }, 'application/octet-stream': { description: 'JSON header followed by binary outputs' } } },
        '400': v2Error('Invalid request or tensor data; an input or requested output the model metadata does not list'),
        '404': v2Error('No such model'),
        '413': v2Error('Body larger than max_request_size (the message names the limit)'),
        '500': v2Error('The handler answered something its model metadata does not advertise'),
        '503': v2Error('Queue full or no live worker'),
        '507': v2Error('The answer is larger than max_response_size'),
        ...unauthorized,
      },
    },
  },
  '/v2/models/{model_name}/versions/{model_version}/infer': {
    post: { summary: 'Inference with a given version', parameters: [modelName, modelVersion], requestBody: { required: true, content: { 'application/json': { schema: ref('V2InferRequest') } } }, responses: { '200': json(ref('V2InferResponse'), 'Outputs'), '404': v2Error('No such model or version'), ...unauthorized } },
  },
};

const managementPaths = {
  '/models': {
    get: {
      summary: 'List models, paginated',
      parameters: [
        queryParam('limit', 'Models per page', { type: 'integer', minimum: 1, maximum: MAX_PAGE_SIZE, default: 100 }),
        queryParam('next_page_token', 'nextPageToken of the previous page', { type: 'string' }),
      ],
      responses: { '200': json(ref('ModelList'), 'A page of models'), '400': error('Invalid parameter'), ...unauthorized },
    },
    post: {
      summary: 'Register a model archive (only with enable_model_api=true)',
      parameters: [
        queryParam('url', 'A file name in the model store, or an http(s) URL matching allowed_urls', { type: 'string' }, true),
        queryParam('model_name', 'Name to serve it under (default: the manifest’s)', { type: 'string' }),
        queryParam('initial_workers', 'Workers to start', { type: 'integer', minimum: MODEL_LIMITS.workers.min, maximum: MODEL_LIMITS.workers.max }),
        queryParam('batch_size', 'Largest batch', { type: 'integer', minimum: MODEL_LIMITS.batchSize.min, maximum: MODEL_LIMITS.batchSize.max }),
        queryParam('max_batch_delay', 'Milliseconds to fill a batch', { type: 'integer', minimum: MODEL_LIMITS.maxBatchDelayMs.min, maximum: MODEL_LIMITS.maxBatchDelayMs.max }),
        queryParam('response_timeout', 'Seconds a batch may run', { type: 'number', minimum: 0, exclusiveMinimum: true, maximum: MODEL_LIMITS.responseTimeoutS.max }),
        queryParam('synchronous', 'Answer once the workers are ready (TorchServe’s default); false: 202 while they start', { type: 'boolean', default: true }),
        queryParam('runtime', 'Only node: the runtime archives record', { type: 'string', enum: ['node'] }),
      ],
      requestBody: { required: false, description: 'The same parameters as a JSON object, as TorchServe also takes them; the query wins', content: { 'application/json': { schema: { type: 'object' } } } },
      responses: {
        '200': status('Registered'),
        '202': status('Registered; workers starting'),
        '400': error('Invalid or unsupported parameter (named in the message), unreadable or unsafe archive, failed download'),
        '403': error('Path outside the model store, or URL not allowed by allowed_urls'),
        '404': error('No such file in the model store, or an empty url'),
        '405': error('enable_model_api is false'),
        '409': error('This name and version is already registered, or the downloaded file name exists'),
        ...unauthorized,
      },
    },
  },
  '/models/{model_name}': {
    get: { summary: 'Describe the default version', parameters: [modelName, customized], responses: describeResponses },
    put: { ...scale, parameters: [modelName, ...scale.parameters] },
    delete: { ...unregister, summary: `${unregister.summary} (default version)`, parameters: [modelName, ...unregister.parameters] },
  },
  '/models/{model_name}/all': { get: { summary: 'Describe every version', parameters: [modelName, customized], responses: describeResponses } },
  '/models/{model_name}/{model_version}': {
    get: { summary: 'Describe a version', parameters: [modelName, modelVersion, customized], responses: describeResponses },
    put: { ...scale, parameters: [modelName, modelVersion, ...scale.parameters] },
    delete: { ...unregister, parameters: [modelName, modelVersion, ...unregister.parameters] },
  },
  '/models/{model_name}/{model_version}/set-default': {
    put: { summary: 'Make this version the one /predictions/{model_name} uses', parameters: [modelName, modelVersion], responses: { '200': status('Default set'), '404': error('No such model or version'), ...unauthorized } },
  },
};

/** The OpenAPI 3 description of both APIs; served on `OPTIONS /` and kept in `docs/openapi.json`. */
export function openApiDocument(): Record<string, unknown> {
  return {
    openapi: '3.0.3',
    info: {
      title: `${SERVER_NAME} model server`,
      version: SERVER_VERSION,
      description:
        'Inference API (inference_address: /ping, /predictions, KServe v1 under /v1, KServe v2 under /v2) and management API (management_address: /models). ' +
        'With token authorization on, send `Authorization: Bearer <key>` with the inference or management key from the key file.',
    },
    tags: [{ name: 'inference' }, { name: 'management' }],
    paths: {
      ...tagAll({ ...inferencePaths, ...v1Paths }, 'inference'),
      ...tagAll(managementPaths, 'management'),
    },
    components: {
      schemas: { ...schemas, ...v1Schemas },
      securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } },
    },
  };
}

function tagAll(paths: Record<string, Record<string, object>>, tag: string): Record<string, Record<string, object>> {
  return Object.fromEntries(
    Object.entries(paths).map(([path, ops]) => [path, Object.fromEntries(Object.entries(ops).map(([method, op]) => [method, { tags: [tag], ...op }]))]),
  );
}
