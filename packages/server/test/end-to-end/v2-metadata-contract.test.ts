import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { archiveHandler, buildClassifierArchive, FIXTURES, SHARED, startModelServer, type ModelServer } from '../../../../test/support/model-server.js';
import { stableTop1 } from '../../../../test/support/imagenet-reference.js';

interface V2Tensor {
  name: string;
  datatype: string;
  shape: number[];
  data?: unknown[];
  parameters?: Record<string, unknown>;
}

/**
 * The KServe v2 metadata as a contract, against a real server with the example image classifier:
 * N images in one BYTES tensor get N answers, inputs are matched by name, and every advertised output
 * comes back with the advertised datatype and shape. Triton's Python client is not installable offline
 * here, so its requests are sent as it builds them (binary data extension, outputs requested binary)
 * and its `as_numpy('output')` is done on the raw bytes.
 */
describe('KServe v2: the metadata is what the answers are', () => {
  let server: ModelServer;
  let labels: Record<string, [string, string]>;
  const photos = ['Dog1.jpg', 'pelican.jpeg'];
  let images: Buffer[];
  const v2 = (path: string, init?: RequestInit) => fetch(`${server.inference}/v2${path}`, init);
  const infer = (model: string, body: unknown) =>
    v2(`/models/${model}/infer`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  const b64Input = (name: string, items: Buffer[]) => ({ name, shape: [items.length], datatype: 'BYTES', parameters: { content_type: 'base64' }, data: items.map((i) => i.toString('base64')) });

  beforeAll(async () => {
    images = await Promise.all(photos.map((p) => readFile(join(SHARED, 'images', p))));
    labels = JSON.parse(await readFile(join(SHARED, 'models/index_to_name.json'), 'utf8')) as typeof labels;
    server = await startModelServer({
      prepare: async (store) => {
        await buildClassifierArchive(store);
        await archiveHandler(store, join(FIXTURES, 'mis-described.mjs'), { name: 'misdescribed' });
      },
      models: ['mobilenet=mobilenet-1.0.mar', 'misdescribed.mar'],
    });
  }, 120_000);
  afterAll(() => server?.stop());

  it('answers two images in one BYTES tensor with two answers', async () => {
    const res = await infer('mobilenet', { inputs: [b64Input('image', images)] });
    expect(res.status).toBe(200);
    const { outputs } = (await res.json()) as { outputs: V2Tensor[] };
    expect(outputs.map((o) => [o.name, o.datatype, o.shape])).toEqual([['output', 'FP32', [2, 1000]], ['classes', 'BYTES', [2]]]);
    const top1 = (outputs[1]!.data as string[]).map((text) => Object.keys((JSON.parse(text) as Array<Record<string, number>>)[0]!)[0]);
    expect(top1).toEqual(photos.map(stableTop1));
  });

  it('gives output as FP32 [N, 1000] to a Triton-style binary request, as_numpy-ready', async () => {
    // As tritonclient.http builds it: InferInput('image', [2], 'BYTES') with binary data, InferRequestedOutput('output', binary_data=True).
    const tensor = Buffer.concat(images.flatMap((img) => [Buffer.from(Uint32Array.of(img.length).buffer), img]));
    const header = Buffer.from(JSON.stringify({
      inputs: [{ name: 'image', shape: [2], datatype: 'BYTES', parameters: { binary_data_size: tensor.length } }],
      outputs: [{ name: 'output', parameters: { binary_data: true } }],
    }));
    const res = await v2('/models/mobilenet/infer', {
      method: 'POST',
      headers: { 'content-type': 'application/octet-stream', 'inference-header-content-length': String(header.length) },
      body: Buffer.concat([header, tensor]),
    });
    expect(res.status).toBe(200);
    const body = Buffer.from(await res.arrayBuffer());
    const headLength = Number(res.headers.get('inference-header-content-length'));
    const head = JSON.parse(body.subarray(0, headLength).toString()) as { outputs: V2Tensor[] };
    expect(head.outputs).toEqual([{ name: 'output', datatype: 'FP32', shape: [2, 1000], parameters: { binary_data_size: 2 * 1000 * 4 } }]);
    const raw = body.subarray(headLength);
    const scores = new Float32Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength));
    expect(scores).toHaveLength(2000);
    const argmax = (row: Float32Array) => row.indexOf(Math.max(...row));
    const top = [0, 1].map((i) => labels[String(argmax(scores.subarray(i * 1000, (i + 1) * 1000)))]![1].replace(/_/g, ' '));
    expect(top).toEqual(photos.map(stableTop1));
  });

  it('returns every advertised output, alone, with the advertised datatype and shape', async () => {
    const meta = (await (await v2('/models/mobilenet')).json()) as { outputs: V2Tensor[] };
    expect(meta.outputs.map((o) => o.name)).toEqual(['output', 'classes']);
    for (const advertised of meta.outputs) {
      const res = await infer('mobilenet', { inputs: [b64Input('image', images.slice(0, 1))], outputs: [{ name: advertised.name }] });
      const { outputs } = (await res.json()) as { outputs: V2Tensor[] };
      expect(outputs).toHaveLength(1);
      expect(outputs[0]!.name).toBe(advertised.name);
      expect(outputs[0]!.datatype).toBe(advertised.datatype);
      expect(outputs[0]!.shape).toHaveLength(advertised.shape.length);
      outputs[0]!.shape.forEach((d, i) => expect([-1, d]).toContain(advertised.shape[i]));
    }
  });

  it.each([
    ['an extra input next to the image', [{ name: 'foo', shape: [1], datatype: 'BYTES', data: ['x'] }], /has no input "foo"; its inputs are "input", "image"/],
    ['a lone input under a wrong name', [], /has no input "picture"/],
    ['the model input with the wrong datatype', [{ name: 'input', shape: [1], datatype: 'INT32', data: [1] }], /Input "input" of model "mobilenet" is FP32, not INT32/],
  ])('answers %s with a 400 naming it', async (_what, extra, message) => {
    const image = b64Input('image', images.slice(0, 1));
    const inputs = extra.length === 0 ? [{ ...image, name: 'picture' }] : extra[0]!.name === 'input' ? extra : [image, ...extra];
    const res = await infer('mobilenet', { inputs });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: string }).error).toMatch(message);
  });

  it('answers a requested output the model does not have with a 400 naming it', async () => {
    const res = await infer('mobilenet', { inputs: [b64Input('image', images.slice(0, 1))], outputs: [{ name: 'probabilities' }] });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: string }).error).toMatch(/has no output "probabilities"; its outputs are "output", "classes"/);
  });

  it('fails, rather than passes off, an answer that breaks the handler’s own metadata', async () => {
    const res = await infer('misdescribed', { inputs: [{ name: 'x', shape: [1], datatype: 'BYTES', data: ['a'] }] });
    expect(res.status).toBe(500);
    expect(((await res.json()) as { error: string }).error).toMatch(/answered output "output" as BYTES \[1\], but its metadata advertises FP32 \[-1,2\]/);
  });
});
