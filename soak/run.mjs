#!/usr/bin/env node
/**
 * `npm run soak`: every request answered exactly once under faults and long load, with the memory of
 * the server and its workers. See `--help` and docs/reliability.md.
 */
import { writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { replaceResultsSection } from '../bench/lib/doc-section.mjs';
import { runSoak } from './soak.mjs';
import { renderSoakTable } from './table.mjs';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');

const HELP = `npm run soak [-- OPTIONS]

Runs model-server on 127.0.0.1 under steady load from clients that give every request an id and
count the answers per id, injects faults in turn (SIGKILL of a worker, SIGSTOP of a worker past the
response timeout, a request whose handler runs out of memory, scaling up and down, registering and
unregistering a second version with requests in flight), stops the server with --stop while
requests are in flight, and prints a table. Exits 1 if a request was lost or answered twice, a fault
was not recovered from, or the stop left anything behind.

  --duration D       how long the load runs: 90s, 10m, 1h (default 30m)
  --requests N       at most this many requests, whichever bound comes first (default 100000)
  --concurrency C    concurrent clients (default 16)
  --rate R           requests per second, all clients together (default 56: 100,000 in 30 minutes)
  --fault-every D    time between faults (default 30s; every kind is injected at least once)
  --json FILE        also write the full result as JSON
  --write-docs       put the table into docs/reliability.md (between its soak markers)
  -h, --help         this text`;

/** @param {string} text */
function parseDuration(text) {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)$/.exec(text);
  if (!m) throw new Error(`"${text}" is not a duration like 90s, 10m or 1h`);
  return Number(m[1]) * { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[/** @type {'ms'|'s'|'m'|'h'} */ (m[2])];
}

/** @param {string} name @param {string} value @param {number} max */
function positive(name, value, max) {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > max) throw new Error(`--${name} ${value}: expected an integer from 1 to ${max}`);
  return n;
}

let options;
try {
  const { values } = parseArgs({
    args: process.argv.slice(2),
    options: {
      duration: { type: 'string', default: '30m' },
      requests: { type: 'string', default: '100000' },
      concurrency: { type: 'string', default: '16' },
      rate: { type: 'string', default: '56' },
      'fault-every': { type: 'string', default: '30s' },
      json: { type: 'string' },
      'write-docs': { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
  });
  if (values.help) {
    console.log(HELP);
    process.exit(0);
  }
  options = {
    durationMs: parseDuration(values.duration),
    requests: positive('requests', values.requests, 10_000_000),
    concurrency: positive('concurrency', values.concurrency, 1000),
    rate: positive('rate', values.rate, 100_000),
    faultEveryMs: parseDuration(values['fault-every']),
    json: values.json,
    writeDocs: values['write-docs'],
  };
  if (options.durationMs < 30_000) throw new Error('--duration: at least 30s, to leave room for a calm start, every fault and a calm end');
} catch (err) {
  console.error(`soak: ${/** @type {Error} */ (err).message}`);
  process.exit(2);
}

const result = await runSoak({ root: ROOT, ...options, log: (line) => process.stderr.write(`${line}\n`) });
const table = renderSoakTable(result);
console.log(table);
if (options.json) writeFileSync(options.json, `${JSON.stringify(result, null, 2)}\n`);
if (options.writeDocs) {
  const when = `${result.startedAt.slice(0, 16).replace('T', ' ')} UTC`;
  const doc = join(ROOT, 'docs/reliability.md');
  if (!replaceResultsSection(doc, `Measured ${when} by \`npm run soak\`.\n\n${table}`, 'soak')) console.error(`soak: ${doc} has no soak markers; not written`);
}
process.exit(result.passed ? 0 : 1);
