import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  archiveHandler, buildClassifierArchive, classes, curl, FIXTURES, SHARED, startModelServer, type ModelServer,
} from '../../../../test/support/model-server.js';
import { stableTop1 } from '../../../../test/support/imagenet-reference.js';

const MAX_REQUEST_SIZE = 1_000_000;

/**
 * What reaches the handler, with real curl: multipart forms whole, images as base64 text the way
 * TorchServe's clients send them, and every 413 naming the limit however the body came.
 */
describe('request bodies as TorchServe clients send them', () => {
  let server: ModelServer;
  let files: string;
  const dog1 = join(SHARED, 'images/Dog1.jpg');
  const predict = (model: string, ...args: string[]) => curl(['-X', 'POST', `${server.inference}/predictions/${model}`, ...args]);
  const json = (body: string) => JSON.parse(body) as Record<string, unknown>;

  beforeAll(async () => {
    files = await mkdtemp(join(tmpdir(), 'bodies-'));
    const jpeg = await readFile(dog1);
    await writeFile(join(files, 'a.bin'), Buffer.alloc(300, 1));
    await writeFile(join(files, 'b.bin'), Buffer.alloc(500, 2));
    // As `base64 Dog1.jpg > dog1.b64` writes it: wrapped at 76 columns, with a final newline.
    await writeFile(join(files, 'dog1.b64'), `${jpeg.toString('base64').replace(/(.{76})/g, '$1\n')}\n`);
    await writeFile(join(files, 'big.bin'), Buffer.alloc(MAX_REQUEST_SIZE + 1));
    server = await startModelServer({
      config: { max_request_size: MAX_REQUEST_SIZE },
      prepare: async (store) => {
        await archiveHandler(store, join(FIXTURES, 'inspect.mjs'), { name: 'inspect' });
        await buildClassifierArchive(store);
      },
      models: ['inspect.mar', 'mobilenet=mobilenet-1.0.mar'],
    });
  }, 120_000);
  afterAll(async () => {
    await server?.stop();
    await rm(files, { recursive: true, force: true });
  });

  describe('multipart forms', () => {
    it('passes a form of two files to the handler whole', async () => {
      const res = await predict('inspect', '-F', `image=@${join(files, 'a.bin')}`, '-F', `mask=@${join(files, 'b.bin')}`);
      expect(res.status).toBe(200);
      expect(json(res.body)).toMatchObject({ bodyBytes: 0, form: { image: 'bytes:300', mask: 'bytes:500' } });
    });

    it('passes a lone text field as the body too', async () => {
      const res = await predict('inspect', '-F', 'prompt=hello');
      expect(json(res.body)).toMatchObject({ body: 'hello', form: { prompt: 'text:hello' } });
    });

    it('keeps data as the body beside other fields', async () => {
      const res = await predict('inspect', '-F', `data=@${join(files, 'a.bin')}`, '-F', 'n=3');
      expect(json(res.body)).toMatchObject({ bodyBytes: 300, form: { data: 'bytes:300', n: 'text:3' } });
    });

    it('refuses a field name given twice rather than keep only the last', async () => {
      const res = await predict('inspect', '-F', `image=@${join(files, 'a.bin')}`, '-F', `image=@${join(files, 'b.bin')}`);
      expect(res.status).toBe(400);
      expect(json(res.body)).toMatchObject({ code: 400, type: 'BadRequest', message: expect.stringContaining('"image" appears more than once') });
    });

    it('lets the image classifier say what its form lacks', async () => {
      const res = await predict('mobilenet', '-F', `image=@${dog1}`, '-F', `mask=@${join(files, 'b.bin')}`);
      expect(res.status).toBe(400);
      expect(json(res.body)).toMatchObject({ type: 'ImageUnreadable', message: expect.stringContaining('"image", "mask" but no image in "data"') });
    });
  });

  describe('base64 images', () => {
    let reference: string[];
    beforeAll(async () => {
      const raw = await predict('mobilenet', '-T', dog1);
      reference = classes(JSON.parse(raw.body));
      expect(reference[0]).toBe(stableTop1('Dog1.jpg'));
      await writeFile(join(files, 'dog1.json'), JSON.stringify({ data: (await readFile(dog1)).toString('base64') }));
    });

    it.each([
      ['a text/plain body', ['-H', 'Content-Type: text/plain', '--data-binary', '@dog1.b64']],
      ['a form text field', ['-F', 'data=<dog1.b64']],
      ['a JSON {"data"} body', ['-H', 'Content-Type: application/json', '--data-binary', '@dog1.json']],
    ])('classifies %s as the image itself', async (_what, args) => {
      const res = await predict('mobilenet', ...args.map((a) => a.replace(/(^@|^data=<)dog1/, `$1${files}/dog1`)));
      expect(res.status).toBe(200);
      expect(classes(JSON.parse(res.body))).toEqual(reference);
    });
  });

  describe('every 413 names the limit', () => {
    const limit = `max_request_size (${MAX_REQUEST_SIZE} bytes)`;

    it.each([
      ['a declared length', ['--data-binary', '@big.bin']],
      ['a chunked body', ['-H', 'Transfer-Encoding: chunked', '--data-binary', '@big.bin']],
      ['a multipart file', ['-F', 'data=@big.bin']],
    ])('on /predictions: %s', async (_what, args) => {
      const res = await predict('inspect', ...args.map((a) => a.replace('big.bin', join(files, 'big.bin'))));
      expect(res.status).toBe(413);
      expect(json(res.body)).toMatchObject({ code: 413, type: 'PayloadTooLarge', message: expect.stringContaining(limit) });
    });

    it.each([
      ['a declared length', ['--data-binary', '@big.bin']],
      ['a chunked body', ['-H', 'Transfer-Encoding: chunked', '--data-binary', '@big.bin']],
    ])('on /v2: %s', async (_what, args) => {
      const res = await curl(['-X', 'POST', '-H', 'Content-Type: application/json', `${server.inference}/v2/models/inspect/infer`, ...args.map((a) => a.replace('big.bin', join(files, 'big.bin')))]);
      expect(res.status).toBe(413);
      expect(json(res.body)).toEqual({ error: expect.stringContaining(limit) });
    });
  });
});
