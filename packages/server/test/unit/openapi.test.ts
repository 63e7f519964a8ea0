import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { openApiDocument } from '../../src/openapi/index.js';
import { ROOT } from '../../../../test/support/model-server.js';

const DOC = join(ROOT, 'docs/openapi.json');

/** `docs/openapi.json` is generated from the served document; `UPDATE_OPENAPI=1` rewrites it. */
describe('docs/openapi.json', () => {
  const current = `${JSON.stringify(openApiDocument(), null, 2)}\n`;

  it('matches the document the server serves on OPTIONS /', async () => {
    if (process.env['UPDATE_OPENAPI'] === '1') await writeFile(DOC, current);
    expect(await readFile(DOC, 'utf8')).toBe(current);
  });

  it('describes every operation with its responses, and references only defined schemas', () => {
    const doc = openApiDocument() as { paths: Record<string, Record<string, { responses?: object }>>; components: { schemas: object } };
    const text = JSON.stringify(doc);
    for (const ref of text.matchAll(/"#\/components\/schemas\/([A-Za-z0-9]+)"/g)) expect(Object.keys(doc.components.schemas)).toContain(ref[1]);
    for (const [path, ops] of Object.entries(doc.paths)) {
      for (const [method, op] of Object.entries(ops)) expect([path, method, Object.keys(op.responses ?? {}).length > 0]).toEqual([path, method, true]);
    }
  });
});
