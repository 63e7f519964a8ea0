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
    expect(config.batch_size).toBe(1);
    expect(config.max_batch_delay).toBe(100);
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

  it('stops on an unknown key, naming it, the file and the line', () => {
    const cwd = dirWith('job_queue_size=10\nnumber_of_netty_threads=4\n');
    expect(() => loadConfig({ cwd })).toThrow(ServerConfigInvalid);
    expect(() => loadConfig({ cwd })).toThrow(
      `${path.join(cwd, 'config.properties')}:2: unknown config key "number_of_netty_threads"`,
    );
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
