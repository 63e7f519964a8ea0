import { describe, expect, it } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { ARCHIVER_ERRORS } from '@nodeserve/archiver';
import { NodeserveError, type CatalogueError } from '@nodeserve/errors';
import { HANDLER_ERRORS, HandlerError, InvalidInput } from '@nodeserve/handler-sdk/errors';
import { SERVER_ERRORS, QueueFull } from '@nodeserve/server';

/**
 * The error catalogues against the docs, as fastify's errors test does: every code a client or a CLI
 * user can get is declared once, named for its class, and listed in docs/errors.md with its status.
 */
const DOCS = fileURLToPath(new URL('../docs/errors.md', import.meta.url));

/** A bare HandlerError (anything else a handler throws) declares no code: the base names it after its class, status 500. */
const bare = new HandlerError('boom');
const bareHandlerError: CatalogueError = { name: HandlerError.name, prototype: HandlerError.prototype, code: bare.code, status: bare.status };

const catalogues: Record<string, readonly CatalogueError[]> = {
  server: SERVER_ERRORS,
  'handler SDK': [bareHandlerError, ...HANDLER_ERRORS],
  archiver: ARCHIVER_ERRORS,
};
const all = Object.values(catalogues).flat();

/** `| \`Code\` | 404 | … |` rows of every table in docs/errors.md. */
function documented(): Map<string, number> {
  const rows = [...readFileSync(DOCS, 'utf8').matchAll(/^\| `([A-Za-z]+)` \| (\d{3}) \|/gm)];
  const table = new Map<string, number>();
  for (const [, code, status] of rows) {
    expect(table.has(code!)).toBe(false);
    table.set(code!, Number(status));
  }
  return table;
}

describe('the error catalogues', () => {
  it.each(Object.entries(catalogues))('%s: every error is a NodeserveError named after its code, with a 4xx or 5xx status', (_name, errors) => {
    expect(errors.length).toBeGreaterThan(0);
    for (const error of errors) {
      expect(error.prototype).toBeInstanceOf(NodeserveError);
      expect([error.name, error.code]).toEqual([error.name, error.name]);
      expect(error.status >= 400 && error.status <= 599).toBe(true);
    }
  });

  it('has no code twice across the packages', () => {
    const codes = all.map((e) => e.code);
    expect(codes.filter((code, i) => codes.indexOf(code) !== i)).toEqual([]);
  });

  it('documents every code with its status in docs/errors.md, and nothing that does not exist', () => {
    const table = documented();
    expect(Object.fromEntries(all.map((e) => [e.code, table.get(e.code)]))).toEqual(Object.fromEntries(all.map((e) => [e.code, e.status])));
    expect([...table.keys()].filter((code) => !all.some((e) => e.code === code))).toEqual([]);
  });

  it('builds instances that carry their class code and status, and a handler\'s own code passed through', () => {
    const full = new QueueFull('m', 10);
    expect([full.name, full.code, full.status, full.retryAfter]).toEqual(['QueueFull', 'QueueFull', 503, 1]);
    const invalid = new InvalidInput('bad topk');
    expect([invalid.code, invalid.status, invalid instanceof HandlerError, invalid instanceof NodeserveError]).toEqual(['InvalidInput', 400, true, true]);
    expect([new HandlerError('boom').code, new HandlerError('boom').status]).toEqual(['HandlerError', 500]);
    const own = new HandlerError('the text is over 512 tokens', { code: 'TextTooLong', status: 413 });
    expect([own.code, own.status, own.name]).toEqual(['TextTooLong', 413, 'HandlerError']);
    class TextTooLong extends HandlerError {
      static readonly code = 'TextTooLong';
      static readonly status = 413;
    }
    const declared = new TextTooLong('too long', { cause: own });
    expect([declared.code, declared.status, declared.name, declared.cause]).toEqual(['TextTooLong', 413, 'TextTooLong', own]);
  });
});
