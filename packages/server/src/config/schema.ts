import { MODEL_LIMITS } from '@nodeserve/archiver/manifest';
import { z } from 'zod';
import { ModelsPropertySchema } from './models-property.js';

const { workers, batchSize, maxBatchDelayMs, responseTimeoutS, startupTimeoutS } = MODEL_LIMITS;

/** TorchServe's default for both timeouts, in seconds. */
export const DEFAULT_TIMEOUT_S = 120;


/** Where one of the HTTP APIs listens. Port 0 asks the OS for a free port; the bound port is reported. */
export interface ListenAddress {
  host: string;
  port: number;
}

const address = z
  .string()
  .trim()
  .transform((value, ctx): ListenAddress => {
    let url: URL;
    try {
      url = new URL(value);
    } catch {
      ctx.addIssue({ code: 'custom', message: `"${value}" is not an address like http://127.0.0.1:8080` });
      return z.NEVER;
    }
    if (url.protocol !== 'http:') {
      ctx.addIssue({ code: 'custom', message: `"${value}": only http:// addresses are served (put TLS in front of the server)` });
      return z.NEVER;
    }
    if (url.pathname !== '/' || url.search !== '' || url.username !== '' || url.password !== '') {
      ctx.addIssue({ code: 'custom', message: `"${value}" must be scheme, host and port only` });
      return z.NEVER;
    }
    const port = url.port === '' ? 80 : Number(url.port);
    // URL drops an explicit ":0"; keep it, since tests and operators ask for an ephemeral port that way.
    const explicitZero = /:0\/?$/.test(value);
    return { host: url.hostname.replace(/^\[(.*)\]$/, '$1'), port: explicitZero ? 0 : port };
  });

/** The port the Open Inference Protocol's gRPC service listens on unless `grpc_inference_address` says otherwise (see there). */
export const DEFAULT_GRPC_INFERENCE_PORT = 9000;

const SCHEME = /^[a-z][a-z0-9+.-]*:\/\//i;

/**
 * Whether a `grpc_inference_address` value names its port. Without one it is a host alone, as
 * TorchServe writes this key (`grpc_inference_address=0.0.0.0`, the port in `grpc_inference_port`):
 * `0.0.0.0`, `localhost`, `::1` or `[::1]`.
 */
export function grpcAddressNamesPort(value: string): boolean {
  const v = value.trim();
  if (SCHEME.test(v)) return /:\d+\/?$/.test(v);
  if (v.startsWith('[')) return /^\[[^\]]*\]:\d+$/.test(v);
  // Two colons or more without brackets: an IPv6 host alone.
  return /^[^:]*:\d+$/.test(v);
}

/**
 * `host:port`, gRPC's own way of naming an address, `http://host:port` as the HTTP APIs are named, or
 * a host alone (TorchServe's form of this key), which takes port 9000 here; `loadConfig` gives it
 * `grpc_inference_port` instead when that is set.
 */
const grpcAddress = z
  .string()
  .trim()
  .refine((value) => !SCHEME.test(value) || grpcAddressNamesPort(value), 'must be host:port, like 127.0.0.1:9000, or a host alone')
  .transform((value) => {
    if (SCHEME.test(value)) return value;
    if (grpcAddressNamesPort(value)) return `http://${value}`;
    const host = value.includes(':') && !value.startsWith('[') ? `[${value}]` : value;
    return `http://${host}:${DEFAULT_GRPC_INFERENCE_PORT}`;
  })
  .pipe(address);

// Values from a properties file are strings; programmatic callers may pass numbers, booleans and arrays.
const integer = (min: number, max: number) =>
  z.preprocess(
    (v) => (typeof v === 'string' && /^\s*-?\d+\s*$/.test(v) ? Number(v) : v),
    z
      .number({ error: 'must be a whole number' })
      .int('must be a whole number')
      .min(min, `must be at least ${min}`)
      .max(max, `must be at most ${max}`),
  );

const decimal = (min: number, max: number) =>
  z.preprocess(
    (v) => (typeof v === 'string' && /^\s*\d+(\.\d+)?\s*$/.test(v) ? Number(v) : v),
    z.number({ error: 'must be a number' }).gt(min, `must be more than ${min}`).max(max, `must be at most ${max}`),
  );

const boolean = z.preprocess(
  (v) => (typeof v === 'string' && /^\s*(true|false)\s*$/i.test(v) ? v.trim().toLowerCase() === 'true' : v),
  z.boolean({ error: 'must be true or false' }),
);

/** Comma-separated in the file (as TorchServe writes lists), an array when given programmatically. */
const list = z.preprocess(
  (v) => (typeof v === 'string' ? v.split(',') : v),
  z.array(z.string({ error: 'must be a comma-separated list' }).trim()).transform((items) => items.filter((item) => item !== '')),
);

const regexList = list.pipe(
  z.array(
    z.string().refine((pattern) => {
      try {
        new RegExp(pattern);
        return true;
      } catch {
        return false;
      }
    }, 'must be a comma-separated list of valid regular expressions'),
  ),
);

/**
 * `config.properties`: TorchServe/MMS key names and defaults, except where ours are safer (`allowed_urls`
 * is empty: only the model store). A key not listed here stops start-up, so a typo never silently
 * falls back to a default.
 */
export const ServerConfigSchema = z.strictObject({
  inference_address: address.default({ host: '127.0.0.1', port: 8080 }),
  management_address: address.default({ host: '127.0.0.1', port: 8081 }),
  metrics_address: address.default({ host: '127.0.0.1', port: 8082 }),
  /**
   * Where the Open Inference Protocol's gRPC service (`inference.GRPCInferenceService`, plaintext
   * HTTP/2) listens. Port 9000 is the gRPC port of KServe's own serving runtimes (its Triton runtime's
   * `--grpc-port=9000`, declared as the container's `h2c` port); KServe's Python model server uses
   * 8081, which TorchServe, and so this server, gives the management API.
   */
  grpc_inference_address: grpcAddress.default({ host: '127.0.0.1', port: DEFAULT_GRPC_INFERENCE_PORT }),
  /**
   * TorchServe's key for its gRPC inference port (TorchServe writes the host alone in
   * `grpc_inference_address`). `loadConfig` folds it into `grpc_inference_address`: it is the port when
   * that key names a host alone or is not set (host 127.0.0.1); a port written in
   * `grpc_inference_address` wins over it, with a warning when they differ.
   */
  grpc_inference_port: integer(0, 65_535).optional(),
  /**
   * TorchServe's switch for TLS on its gRPC ports. gRPC is plaintext HTTP/2 here, as the HTTP APIs are
   * plain HTTP: `true` stops start-up rather than serve in the clear what was meant to be encrypted.
   */
  enable_grpc_ssl: boolean.refine((on) => !on, 'TLS is not served here (gRPC is plaintext HTTP/2); terminate it in a proxy').optional(),
  /** Directory holding the archives; `--models NAME=FILE.mar` and `load_models` are resolved in it. */
  model_store: z.string().trim().min(1).optional(),
  /** `all`, or archives as `FILE.mar` / `NAME=FILE.mar`, loaded at start-up. */
  load_models: list.default([]),
  /** Requests each model version queues before answering 503. */
  job_queue_size: integer(1, 1_000_000).default(100),
  /**
   * Workers (processes) each model starts with unless its archive says otherwise. Unset: one per GPU
   * with `number_of_gpu`, else one per core with one ONNX Runtime thread each, as many as fit in half
   * the memory (`defaultWorkers`).
   */
  default_workers_per_model: integer(workers.min, workers.max).optional(),
  /**
   * Largest batch for every model whose archive or registration does not say. Unset: one request at
   * a time, or for a handler exporting `maxBatchSize` (the SDK's), the requests already waiting up
   * to that many, with no delay.
   */
  batch_size: integer(batchSize.min, batchSize.max).optional(),
  /**
   * Milliseconds a worker waits, from a batch's first request, to fill the batch. Unset: 100
   * (TorchServe's), or 0 for a handler batching by its `maxBatchSize`.
   */
  max_batch_delay: integer(maxBatchDelayMs.min, maxBatchDelayMs.max).optional(),
  /** Seconds a batch may run before its requests are answered 504 and its worker replaced. */
  default_response_timeout: decimal(0, responseTimeoutS.max).default(DEFAULT_TIMEOUT_S),
  /** Seconds a worker may take to import its handler and run `initialize`. */
  default_startup_timeout: decimal(0, startupTimeoutS.max).default(DEFAULT_TIMEOUT_S),
  /** Largest request body, in bytes (TorchServe's 6553500 by default); larger bodies get 413. */
  max_request_size: integer(1, 1024 * 1024 * 1024).default(6_553_500),
  /**
   * Largest answer a handler may give, in bytes (TorchServe's 6553500 by default): a larger one is
   * refused with 507 `ResponseTooLarge` (TorchServe's status for it) and the worker keeps serving.
   */
  max_response_size: integer(1, 1024 * 1024 * 1024).default(6_553_500),
  /** Per-model-version settings as JSON, TorchServe's `models={"name": {"1.0": {"batchSize": 4, …}}}`. */
  models: ModelsPropertySchema.default({}),
  /** GPUs the workers are spread over (round-robin); 0 runs on CPU. */
  number_of_gpu: integer(0, 64).default(0),
  /** Regular expressions of archive URLs the management API may register from; empty: the model store only. */
  allowed_urls: regexList.default([]),
  /**
   * Let `TS_ALLOWED_URLS` set `allowed_urls` when `enable_envvars_config` is on (TorchServe's hardening
   * after CVE-2023-43654: the environment cannot widen where archives come from unless the file says so).
   */
  use_env_allowed_urls: boolean.default(false),
  /** Allow registering and unregistering models through the management API. */
  enable_model_api: boolean.default(false),
  enable_token_authorization: boolean.optional(),
  disable_token_authorization: boolean.optional(),
  /** Where the API keys are written (owner-only) when token authorization is on; relative to the working directory. */
  key_file: z.string().trim().min(1).default('key_file.json'),
  /**
   * A key file written by someone else, in `key_file`'s JSON shape (a Kubernetes Secret mounted
   * read-only): the server takes its keys from it instead of generating them, so every replica accepts
   * the same keys, and it neither rewrites nor removes the file.
   */
  shared_key_file: z.string().trim().min(1).optional(),
  /**
   * Read `TS_<KEY>` environment variables (`TS_JOB_QUEUE_SIZE=50`), which then win over this file and
   * the command line, as TorchServe's `enable_envvars_config`. Only a file or the caller can set it,
   * never the environment itself.
   */
  enable_envvars_config: boolean.default(false),
  /**
   * Seconds between SIGTERM and closing the listeners during which readiness (`/ping`,
   * `/v2/health/ready`) fails while requests are still served, so a load balancer that health-checks the
   * server stops sending to it before it refuses connections (kube-apiserver's
   * `--shutdown-delay-duration`). 0 closes them at once.
   */
  shutdown_delay: integer(0, 3_600).default(0),
  /** Serve `/metrics` on `metrics_address`; false opens no metrics listener. */
  enable_metrics_api: boolean.default(true),
  /**
   * TorchServe's `log | prometheus | legacy`. Metrics are always Prometheus text on `metrics_address`
   * here (TorchServe's default `log` leaves `/metrics` empty); another value starts with a warning.
   */
  metrics_mode: z.enum(['prometheus', 'log', 'legacy'], { error: 'must be prometheus, log or legacy' }).default('prometheus'),
  /** Leave out the host's CPU, memory and disk gauges (TorchServe's system metrics). */
  disable_system_metrics: boolean.default(false),
  /** `Access-Control-Allow-Origin` on every answer, and preflight requests answered; unset: no CORS. */
  cors_allowed_origin: z.string().trim().min(1).optional(),
  cors_allowed_methods: z.string().trim().min(1).optional(),
  cors_allowed_headers: z.string().trim().min(1).optional(),
  /** Environment variables whose names match this regular expression are hidden from the workers. */
  blacklist_env_vars: z
    .string()
    .trim()
    .refine((pattern) => {
      try {
        new RegExp(pattern);
        return true;
      } catch {
        return false;
      }
    }, 'must be a valid regular expression')
    .optional(),
  /**
   * TorchServe decodes JSON and text bodies for the handler when true (its default). Here `body` always
   * keeps the raw bytes and `json` holds a JSON body parsed, which serves both settings; false starts
   * with a warning saying so.
   */
  decode_input_request: boolean.default(true),
  /**
   * TorchServe's switch for PIL's pixel limit. The SDK always bounds decoded pixels (the handler's
   * `maxImagePixels`); false starts with a warning saying so.
   */
  limit_max_image_pixels: boolean.default(true),

  // ---- Connection limits: what one client may hold of the HTTP front end (each of the three
  // listeners applies them on its own). TorchServe has no equivalent keys (Netty's defaults are
  // unbounded); the names follow what they limit. docs/server.md "Limits" says what a client sees.
  /**
   * Connections each listener keeps open at once. One more is answered 503 `TooManyConnections` and
   * closed. Why 1000: ten times the benchmark's 100 clients; an idle kept-alive connection costs the
   * front end ~11 KiB (measured over 2,000), one receiving a body ~56 KiB plus the body.
   */
  max_connections: integer(1, 1_000_000).default(1_000),
  /**
   * Seconds a client has, from opening a connection or from the first byte of a request on a
   * kept-alive one, to send the request line and headers; then 408 `RequestTimeout` and the
   * connection is closed. Every HTTP client sends its headers at once: this only frees the slots of
   * stalled and slowloris clients.
   */
  request_header_timeout: decimal(0, 3_600).default(30),
  /**
   * Seconds a client has, from the end of the headers, to send the whole body; then 408
   * `RequestTimeout`. 60 s lets a client on a 1 Mbit/s link send `max_request_size` (6.5 MB).
   */
  request_body_timeout: decimal(0, 3_600).default(60),
  /**
   * Seconds an idle kept-alive connection stays open after its last answer (advertised in
   * `Keep-Alive: timeout=N`). 75 s, nginx's default, outlasts the idle timeout of the usual load
   * balancers (60 s), so they close first and never reuse a connection the server is closing.
   */
  keep_alive_timeout: decimal(0, 3_600).default(75),
  /** Bytes of request line and headers a request may have (Node's default); beyond it, 431 `RequestHeadersTooLarge`. */
  max_header_size: integer(1_024, 1024 * 1024).default(16_384),
  /**
   * Requests a client may send on one connection before their answers (HTTP/1.1 pipelining). They
   * are taken one at a time, in order, so pipelining takes no more of a model's queue than one
   * request; one more is answered 429 `TooManyPipelinedRequests` and the connection is closed.
   */
  max_pipelined_requests: integer(1, 1_024).default(16),
  /**
   * Bytes of request bodies each listener holds at once (being received, queued or in a worker),
   * counted by their declared length (`max_request_size` for a chunked body). A request whose body
   * would go past it is answered 503 `TooManyRequestBytes` before its body is read. 1 GiB holds
   * the default queue full of the largest bodies (100 × 6.5 MB) with room for those being read.
   */
  max_request_bytes_in_flight: integer(1, 64 * 1024 ** 3).default(1024 ** 3),
}).superRefine((config, ctx) => {
  if (config.max_request_bytes_in_flight < config.max_request_size) {
    ctx.addIssue({ code: 'custom', path: ['max_request_bytes_in_flight'], message: `must be at least max_request_size (${config.max_request_size}), or no large body could ever be taken` });
  }
});

/** The raw values a config file or the command line may give, before validation. */
export type ServerConfigInput = z.input<typeof ServerConfigSchema>;
export type ServerConfig = z.output<typeof ServerConfigSchema>;
export type ServerConfigKey = keyof ServerConfig;

export const SERVER_CONFIG_KEYS = Object.keys(ServerConfigSchema.shape) as ServerConfigKey[];
