import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { loadConfig } from '../../src/config/index.js';
import { ServerConfigInvalid } from '../../src/errors.js';
import { connectionLimits } from '../../src/http/connection-limits.js';

function configFrom(text: string) {
  const dir = mkdtempSync(path.join(tmpdir(), 'ms-limits-'));
  writeFileSync(path.join(dir, 'config.properties'), text);
  return loadConfig({ cwd: dir }).config;
}

describe('the connection limit keys', () => {
  it('default to the documented values (docs/server.md, Limits)', () => {
    expect(connectionLimits(configFrom(''))).toEqual({
      maxConnections: 1000,
      headerTimeoutS: 30,
      bodyTimeoutS: 60,
      keepAliveTimeoutS: 75,
      maxHeaderSize: 16_384,
      maxPipelinedRequests: 16,
      maxRequestBytesInFlight: 1024 ** 3,
      maxRequestSize: 6_553_500,
    });
  });

  it('take seconds with decimals and whole counts', () => {
    const limits = connectionLimits(configFrom('request_header_timeout=1.5\nrequest_body_timeout=2\nkeep_alive_timeout=0.5\nmax_connections=8\n'));
    expect(limits).toMatchObject({ headerTimeoutS: 1.5, bodyTimeoutS: 2, keepAliveTimeoutS: 0.5, maxConnections: 8 });
  });

  it.each([
    ['max_connections=0', 'max_connections: must be at least 1'],
    ['request_header_timeout=0', 'request_header_timeout: must be more than 0'],
    ['keep_alive_timeout=-1', 'keep_alive_timeout'],
    ['max_pipelined_requests=2.5', 'max_pipelined_requests: must be a whole number'],
    ['max_request_size=2000\nmax_request_bytes_in_flight=1999', 'max_request_bytes_in_flight: must be at least max_request_size (2000)'],
  ])('refuses %j at start-up, naming the key', (text, message) => {
    expect(() => configFrom(text)).toThrow(ServerConfigInvalid);
    expect(() => configFrom(text)).toThrow(message);
  });
});
