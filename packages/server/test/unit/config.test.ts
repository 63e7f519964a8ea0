import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { loadConfig, parseProperties } from '../../src/config/index.js';
import { ServerConfigInvalid } from '../../src/errors.js';

function dirWith(text?: string): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'ms-config-'));
  if (text !== undefined) writeFileSync(path.join(dir, 'config.properties'), text);
  return dir;
}

describe('parseProperties', () => {
  it('reads the Java properties syntax: separators, comments, continuations and escapes', () => {
    const entries = parseProperties(
      [
        '# a comment',
        '! another comment',
        'a=1',
        'b : two words ',
        'c 3',
        '  d=first,\\',
        '     second',
        'e=tab\\there\\u0041\\\\',
        'key\\ with\\ spaces=x',
        'empty=',
      ].join('\n'),
    );
    expect(entries.map((e) => [e.key, e.value, e.line])).toEqual([
      ['a', '1', 3],
      ['b', 'two words ', 4],
      ['c', '3', 5],
      ['d', 'first,second', 6],
      ['e', 'tab\there' + 'A\\', 8],
      ['key with spaces', 'x', 9],
      ['empty', '', 10],
    ]);
  });
});

describe('loadConfig', () => {
  it('applies the TorchServe defaults when there is no config file', () => {
    const { config, file } = loadConfig({ cwd: dirWith() });
    expect(file).toBeUndefined();
    expect(config.inference_address).toEqual({ host: '127.0.0.1', port: 8080 });
    expect(config.management_address).toEqual({ host: '127.0.0.1', port: 8081 });
    expect(config.metrics_address).toEqual({ host: '127.0.0.1', port: 8082 });
    expect(config.job_queue_size).toBe(100);
    expect(config.max_request_size).toBe(6_553_500);
    expect(config.default_response_timeout).toBe(120);
    // Unset: 1, or the requests already waiting for a handler exporting maxBatchSize (docs/server.md, Batching).
    expect(config.batch_size).toBeUndefined();
    expect(config.max_batch_delay).toBeUndefined();
    expect(config.allowed_urls).toEqual([]);
    expect(config.enable_model_api).toBe(false);
  });

  it('reads config.properties from the working directory and coerces its values', () => {
    const cwd = dirWith(
      'inference_address=http://127.0.0.1:0\njob_queue_size = 10\nenable_model_api: TRUE\nload_models=a=a.mar, b.mar\nmodel_store=store\ndefault_response_timeout=2.5\n',
    );
    const { config, file } = loadConfig({ cwd });
    expect(file).toBe(path.join(cwd, 'config.properties'));
    expect(config.inference_address).toEqual({ host: '127.0.0.1', port: 0 });
    expect(config.job_queue_size).toBe(10);
    expect(config.enable_model_api).toBe(true);
    expect(config.load_models).toEqual(['a=a.mar', 'b.mar']);
    expect(config.model_store).toBe(path.join(cwd, 'store'));
    expect(config.default_response_timeout).toBe(2.5);
  });

  it('lets command-line values override the file', () => {
    const cwd = dirWith('model_store=from-file\njob_queue_size=10\n');
    const { config } = loadConfig({ cwd, overrides: { model_store: '/abs/store', load_models: ['x.mar'] } });
    expect(config.model_store).toBe('/abs/store');
    expect(config.load_models).toEqual(['x.mar']);
    expect(config.job_queue_size).toBe(10);
  });

  it('stops on an unknown key, naming it, the file and the line, with the closest key as a hint', () => {
    const cwd = dirWith('job_queue_size=10\njob_qeueu_size=4\n');
    expect(() => loadConfig({ cwd })).toThrow(ServerConfigInvalid);
    expect(() => loadConfig({ cwd })).toThrow(
      `${path.join(cwd, 'config.properties')}:2: unknown config key "job_qeueu_size"; did you mean "job_queue_size"?`,
    );
    expect(() => loadConfig({ cwd: dirWith('max_respones_size=10\n') })).toThrow(/unknown config key "max_respones_size"; did you mean "max_response_size"\?/);
    // Nothing close: no hint.
    expect(() => loadConfig({ cwd: dirWith('colour=blue\n') })).toThrow(/unknown config key "colour"$/m);
  });

  it('accepts the keys of TorchServe\'s JVM, Netty and Python workers with one warning each, naming the key, where and why', () => {
    const cwd = dirWith(['number_of_netty_threads=32', 'vmargs=-Xmx4g -XX:+UseContainerSupport', 'install_py_dep_per_model=true', 'job_queue_size=1000'].join('\n'));
    const { config, warnings } = loadConfig({ cwd });
    expect(config.job_queue_size).toBe(1000);
    const file = path.join(cwd, 'config.properties');
    expect(warnings).toEqual([
      `${file}:1: number_of_netty_threads is ignored: Netty front-end threads; Node.js serves HTTP on one event loop`,
      `${file}:2: vmargs is ignored: JVM options; the server is a Node.js process (NODE_OPTIONS sets its options)`,
      `${file}:3: install_py_dep_per_model is ignored: handlers are bundled at archive time; there is nothing to pip install`,
    ]);
  });

  it('honours TorchServe keys that mean something here: max_response_size, metrics, CORS, models', () => {
    const { config, warnings } = loadConfig({
      cwd: dirWith([
        'max_response_size=1000',
        'metrics_mode=prometheus',
        'enable_metrics_api=false',
        'disable_system_metrics=true',
        'cors_allowed_origin=*',
        'models={\\',
        '  "noop": {"1.0": {"defaultVersion": true, "marName": "noop.mar", "minWorkers": 1, "maxWorkers": 2, "batchSize": 4, "maxBatchDelay": 50, "responseTimeout": 30}}\\',
        '}',
      ].join('\n')),
    });
    expect(warnings).toEqual([]);
    expect(config.max_response_size).toBe(1000);
    expect(config.enable_metrics_api).toBe(false);
    expect(config.disable_system_metrics).toBe(true);
    expect(config.cors_allowed_origin).toBe('*');
    expect(config.models).toEqual({ noop: { '1.0': { defaultVersion: true, marName: 'noop.mar', minWorkers: 1, maxWorkers: 2, batchSize: 4, maxBatchDelay: 50, responseTimeout: 30 } } });
  });

  it('warns for values served differently, and refuses bad models JSON by model, version and setting', () => {
    const { warnings } = loadConfig({ cwd: dirWith('metrics_mode=log\nmodels={"m": {"1.0": {"startupTimeout": 30}}}\n') });
    expect(warnings).toEqual([
      expect.stringMatching(/:1: metrics_mode=log is served as prometheus/),
      expect.stringMatching(/:2: models: m 1\.0: startupTimeout is not applied per model/),
    ]);
    expect(() => loadConfig({ cwd: dirWith('models={"m": {"1.0": {"batchSize": 0}}}\n') })).toThrow(/:1: models \(m\.1\.0\.batchSize\): Too small|:1: models \(m\.1\.0\.batchSize\)/);
    expect(() => loadConfig({ cwd: dirWith('models={"m": {"1.0": {"batchsize": 4}}}\n') })).toThrow(/:1: models \(m\.1\.0\): unknown setting "batchsize"; did you mean "batchSize"\?/);
    expect(() => loadConfig({ cwd: dirWith('models={"m": \n') })).toThrow(/models: is not valid JSON/);
  });

  it("places gRPC by grpc_inference_address, or TorchServe's host alone and grpc_inference_port, with the port written in the address first", () => {
    const grpc = (text: string, env?: NodeJS.ProcessEnv) => {
      const { config, warnings } = loadConfig({ cwd: dirWith(text), ...(env === undefined ? {} : { env }) });
      return { address: config.grpc_inference_address, warnings };
    };
    expect(grpc('')).toEqual({ address: { host: '127.0.0.1', port: 9000 }, warnings: [] });
    // TorchServe's form: the host in grpc_inference_address, the port in grpc_inference_port.
    expect(grpc('grpc_inference_address=0.0.0.0\ngrpc_inference_port=7070\n')).toEqual({ address: { host: '0.0.0.0', port: 7070 }, warnings: [] });
    expect(grpc('grpc_inference_port=7070\n')).toEqual({ address: { host: '127.0.0.1', port: 7070 }, warnings: [] });
    expect(grpc('grpc_inference_address=::1\ngrpc_inference_port=0\n')).toEqual({ address: { host: '::1', port: 0 }, warnings: [] });
    // A host alone without grpc_inference_port takes this server's default port.
    expect(grpc('grpc_inference_address=0.0.0.0\n')).toEqual({ address: { host: '0.0.0.0', port: 9000 }, warnings: [] });
    // A port written in the address wins, and a different grpc_inference_port is not dropped silently.
    const both = grpc('grpc_inference_address=0.0.0.0:9001\ngrpc_inference_port=7070\n');
    expect(both.address).toEqual({ host: '0.0.0.0', port: 9001 });
    expect(both.warnings).toEqual([
      expect.stringMatching(/:2: grpc_inference_port=7070 is overridden by the port in grpc_inference_address \(.*:1\): gRPC listens on port 9001$/),
    ]);
    expect(grpc('grpc_inference_address=0.0.0.0:7070\ngrpc_inference_port=7070\n').warnings).toEqual([]);
    // TorchServe's environment variable, with enable_envvars_config.
    expect(grpc('enable_envvars_config=true\ngrpc_inference_address=0.0.0.0\n', { TS_GRPC_INFERENCE_PORT: '7075' }).address).toEqual({ host: '0.0.0.0', port: 7075 });
    expect(() => grpc('grpc_inference_port=70000\n')).toThrow(/:1: grpc_inference_port: must be at most 65535/);
    expect(() => grpc('grpc_inference_port=7o7o\n')).toThrow(/:1: grpc_inference_port: must be a whole number/);
  });

  it('refuses enable_grpc_ssl=true rather than serve gRPC in the clear, and still ignores the gRPC management keys with a warning', () => {
    expect(() => loadConfig({ cwd: dirWith('enable_grpc_ssl=true\n') })).toThrow(/:1: enable_grpc_ssl: TLS is not served here/);
    const { warnings } = loadConfig({ cwd: dirWith('enable_grpc_ssl=false\ngrpc_management_port=7071\n') });
    expect(warnings).toEqual([expect.stringMatching(/:2: grpc_management_port is ignored: TorchServe's gRPC management service is not provided/)]);
  });

  it('gives gRPC a listener of its own: an address equal to or overlapping an HTTP API\'s is a config error naming both keys', () => {
    expect(() => loadConfig({ cwd: dirWith('inference_address=http://127.0.0.1:18080\ngrpc_inference_address=127.0.0.1:18080\n') })).toThrow(
      /grpc_inference_address 127\.0\.0\.1:18080 is the address of inference_address http:\/\/127\.0\.0\.1:18080: gRPC needs a listener of its own/,
    );
    expect(() =>
      loadConfig({ cwd: dirWith('inference_address=http://127.0.0.1:18080\nmanagement_address=http://127.0.0.1:18080\ngrpc_inference_address=0.0.0.0:18080\n') }),
    ).toThrow(/grpc_inference_address 0\.0\.0\.0:18080 and inference_address and management_address http:\/\/127\.0\.0\.1:18080 use port 18080 on overlapping hosts/);
    // TorchServe's port key is checked the same way, once folded into the address.
    expect(() => loadConfig({ cwd: dirWith('metrics_address=http://127.0.0.1:18082\ngrpc_inference_port=18082\n') })).toThrow(
      /grpc_inference_address 127\.0\.0\.1:18082 is the address of metrics_address/,
    );
    // Port 0 never clashes, and a metrics port is free for gRPC when the metrics API is off.
    expect(loadConfig({ cwd: dirWith('inference_address=http://127.0.0.1:0\ngrpc_inference_address=127.0.0.1:0\n') }).config.grpc_inference_address.port).toBe(0);
    expect(loadConfig({ cwd: dirWith('enable_metrics_api=false\nmetrics_address=http://127.0.0.1:18082\ngrpc_inference_address=127.0.0.1:18082\n') }).config.grpc_inference_address.port).toBe(18082);
  });

  it('serves APIs with equal addresses on one listener, and refuses addresses that overlap without being equal', () => {
    const same = loadConfig({ cwd: dirWith('inference_address=http://127.0.0.1:18080\nmanagement_address=http://127.0.0.1:18080\n') });
    expect(same.config.management_address).toEqual(same.config.inference_address);
    expect(() => loadConfig({ cwd: dirWith('inference_address=http://0.0.0.0:18080\nmanagement_address=http://127.0.0.1:18080\n') })).toThrow(
      /management_address http:\/\/127\.0\.0\.1:18080 and inference_address http:\/\/0\.0\.0\.0:18080 use port 18080 on overlapping hosts/,
    );
  });

  it('reads TS_ALLOWED_URLS only when the file sets use_env_allowed_urls, as TorchServe', () => {
    const env = { TS_ALLOWED_URLS: 'https://models\\.example\\.com/.*', TS_JOB_QUEUE_SIZE: '7' };
    const off = loadConfig({ cwd: dirWith('enable_envvars_config=true\n'), env }).config;
    expect([off.allowed_urls, off.job_queue_size]).toEqual([[], 7]);
    const on = loadConfig({ cwd: dirWith('enable_envvars_config=true\nuse_env_allowed_urls=true\n'), env }).config;
    expect(on.allowed_urls).toEqual(['https://models\\.example\\.com/.*']);
    // The switch itself never comes from the environment.
    expect(loadConfig({ cwd: dirWith('enable_envvars_config=true\n'), env: { ...env, TS_USE_ENV_ALLOWED_URLS: 'true' } }).config.allowed_urls).toEqual([]);
  });

  it('stops on a bad value, naming the key', () => {
    expect(() => loadConfig({ cwd: dirWith('job_queue_size=lots\n') })).toThrow(/:1: job_queue_size: must be a whole number/);
    expect(() => loadConfig({ cwd: dirWith('batch_size=0\n') })).toThrow(/batch_size: must be at least 1/);
    expect(() => loadConfig({ cwd: dirWith('enable_model_api=yes\n') })).toThrow(/enable_model_api: must be true or false/);
    expect(() => loadConfig({ cwd: dirWith('inference_address=https://0.0.0.0:443\n') })).toThrow(/inference_address: .*only http/);
    expect(() => loadConfig({ cwd: dirWith('allowed_urls=file://.*,(\n') })).toThrow(/allowed_urls: must be .*regular expressions/);
  });

  it('refuses a --config file that does not exist', () => {
    const cwd = dirWith();
    expect(() => loadConfig({ cwd, configFile: 'missing.properties' })).toThrow(/Config file not found: .*missing\.properties/);
  });
});

describe('loadConfig with TS_<KEY> environment variables (enable_envvars_config)', () => {
  const env = { TS_JOB_QUEUE_SIZE: '7', TS_MODEL_STORE: '/from/env', TS_LOAD_MODELS: 'a.mar,b=b.mar', TS_SHUTDOWN_DELAY: '5' };

  it('ignores them unless the config enables them', () => {
    const { config } = loadConfig({ cwd: dirWith('job_queue_size=10\n'), env });
    expect(config.job_queue_size).toBe(10);
    expect(config.model_store).toBeUndefined();
    expect(config.enable_envvars_config).toBe(false);
  });

  it('once enabled, lets them win over the file and the command line, as TorchServe orders them', () => {
    const cwd = dirWith('enable_envvars_config=true\njob_queue_size=10\nbatch_size=4\n');
    const { config } = loadConfig({ cwd, env, overrides: { model_store: '/from/cli', load_models: ['cli.mar'] } });
    expect(config.job_queue_size).toBe(7);
    expect(config.model_store).toBe('/from/env');
    expect(config.load_models).toEqual(['a.mar', 'b=b.mar']);
    expect(config.shutdown_delay).toBe(5);
    // Keys the environment leaves alone keep the file's value.
    expect(config.batch_size).toBe(4);
  });

  it('never takes the switch itself from the environment', () => {
    const { config } = loadConfig({ cwd: dirWith('job_queue_size=10\n'), env: { ...env, TS_ENABLE_ENVVARS_CONFIG: 'true' } });
    expect(config.enable_envvars_config).toBe(false);
    expect(config.job_queue_size).toBe(10);
  });

  it('leaves other TS_ variables alone (KServe sets TS_SERVICE_ENVELOPE, Kubernetes injects TS_SERVICE_HOST for a Service named ts)', () => {
    const cwd = dirWith('enable_envvars_config=true\n');
    const { config } = loadConfig({ cwd, env: { TS_SERVICE_ENVELOPE: 'kserve', TS_SERVICE_HOST: '10.0.0.1', TS_CONFIG_FILE: '/x' } });
    expect(config.job_queue_size).toBe(100);
  });

  it('stops on a bad value, naming the variable and the key', () => {
    const cwd = dirWith('enable_envvars_config=true\n');
    expect(() => loadConfig({ cwd, env: { TS_JOB_QUEUE_SIZE: 'lots' } })).toThrow(
      /environment variable TS_JOB_QUEUE_SIZE: job_queue_size: must be a whole number/,
    );
  });
});
