import { BadRequest } from '../../src/errors.js';
import { decodeInferRequest, encodeInferResponse } from '../../src/http/v2/codec.js';
import { fromHalfBits, toHalfBits } from '../../src/open-inference/float16.js';

const json = (body: unknown) => Buffer.from(JSON.stringify(body));

function binaryBody(header: unknown, ...parts: Buffer[]): { body: Buffer; length: string } {
  const head = json(header);
  return { body: Buffer.concat([head, ...parts]), length: String(head.length) };
}

describe('v2 infer request decoding', () => {
  it('decodes nested JSON data into typed arrays of the declared datatype', () => {
    const { tensors } = decodeInferRequest(
      json({
        inputs: [
          { name: 'a', shape: [2, 2], datatype: 'FP32', data: [[1, 2.5], [3, 4]] },
          { name: 'b', shape: [3], datatype: 'INT64', data: [1, -2, 9007199254740991] },
          { name: 'c', shape: [2], datatype: 'BOOL', data: [true, false] },
          { name: 'd', shape: [1], datatype: 'BYTES', data: ['héllo'] },
          { name: 'e', shape: [], datatype: 'UINT8', data: [255] },
        ],
      }),
      undefined,
    );
    expect(tensors[0]?.data).toEqual(new Float32Array([1, 2.5, 3, 4]));
    expect(tensors[1]?.data).toEqual(new BigInt64Array([1n, -2n, 9007199254740991n]));
    expect(tensors[2]?.data).toEqual([true, false]);
    expect(Buffer.from(tensors[3]?.data[0] as Uint8Array).toString()).toBe('héllo');
    expect(tensors[4]?.data).toEqual(new Uint8Array([255]));
  });

  it('decodes base64 BYTES so an image can travel inside JSON', () => {
    const image = Buffer.from([0xff, 0xd8, 0xff, 0x00, 0x01]);
    const { tensors } = decodeInferRequest(
      json({ inputs: [{ name: 'img', shape: [1], datatype: 'BYTES', parameters: { content_type: 'base64' }, data: [image.toString('base64')] }] }),
      undefined,
    );
    expect(Buffer.from(tensors[0]?.data[0] as Uint8Array)).toEqual(image);
  });

  it.each([
    [{ inputs: [{ name: 'a', shape: [3], datatype: 'FP32', data: [1, 2] }] }, /needs 3/],
    [{ inputs: [{ name: 'a', shape: [1], datatype: 'INT8', data: [300] }] }, /not a valid INT8/],
    [{ inputs: [{ name: 'a', shape: [1], datatype: 'UINT32', data: [1.5] }] }, /not a valid UINT32/],
    [{ inputs: [{ name: 'a', shape: [1], datatype: 'BYTES', data: [1] }] }, /not a valid BYTES/],
    [{ inputs: [{ name: 'a', shape: [1], datatype: 'FP99', data: [1] }] }, /inputs\.0\.datatype/],
    [{ inputs: [] }, /inputs/],
    [{ inputs: [{ name: 'a', shape: [1], datatype: 'FP32', data: [1] }, { name: 'a', shape: [1], datatype: 'FP32', data: [1] }] }, /twice/],
    [{ inputs: [{ name: 'a', shape: [100000, 100000, 100000], datatype: 'FP32', data: [1] }] }, /more elements/],
    [{ inputs: [{ name: 'a', shape: [1], datatype: 'FP32' }] }, /neither data nor/],
  ])('refuses %j with a 400', (body, message) => {
    const run = () => decodeInferRequest(json(body), undefined);
    expect(run).toThrow(BadRequest);
    expect(run).toThrow(message);
  });

  it('refuses a body that is not JSON', () => {
    expect(() => decodeInferRequest(Buffer.from('{"inputs": ['), undefined)).toThrow(/not valid JSON/);
  });

  it('reads binary inputs after the JSON header, in order, including BYTES elements', () => {
    const floats = Buffer.from(new Float32Array([0.5, -1, 2, 8]).buffer);
    const img = Buffer.from('not really a jpeg');
    const len = Buffer.alloc(4);
    len.writeUInt32LE(img.length);
    const bytes = Buffer.concat([len, img]);
    const { body, length } = binaryBody(
      {
        inputs: [
          { name: 'x', shape: [1, 4], datatype: 'FP32', parameters: { binary_data_size: floats.length } },
          { name: 'img', shape: [1], datatype: 'BYTES', parameters: { binary_data_size: bytes.length } },
        ],
      },
      floats,
      bytes,
    );
    const { tensors } = decodeInferRequest(body, length);
    expect(tensors[0]?.data).toEqual(new Float32Array([0.5, -1, 2, 8]));
    expect(tensors[0]?.parameters).toBeUndefined();
    expect(Buffer.from(tensors[1]?.data[0] as Uint8Array).toString()).toBe('not really a jpeg');
  });

  it('refuses binary sizes that do not add up', () => {
    const floats = Buffer.from(new Float32Array([1, 2]).buffer);
    const header = (size: number, shape = [2]) => ({ inputs: [{ name: 'x', shape, datatype: 'FP32', parameters: { binary_data_size: size } }] });
    let b = binaryBody(header(16), floats);
    expect(() => decodeInferRequest(b.body, b.length)).toThrow(/runs past the end/);
    b = binaryBody(header(8, [3]), floats);
    expect(() => decodeInferRequest(b.body, b.length)).toThrow(/take 12 bytes/);
    b = binaryBody(header(4, [1]), floats);
    expect(() => decodeInferRequest(b.body, b.length)).toThrow(/4 bytes after the last binary input/);
    b = binaryBody(header(8), floats);
    expect(() => decodeInferRequest(b.body, undefined)).toThrow(/not valid JSON|header is missing/);
    expect(() => decodeInferRequest(b.body, String(b.body.length + 1))).toThrow(/only/);
    expect(() => decodeInferRequest(b.body, '-3')).toThrow(/byte count/);
  });

  it('says which outputs the client wants binary', () => {
    const decoded = decodeInferRequest(
      json({
        parameters: { binary_data_output: true },
        inputs: [{ name: 'a', shape: [1], datatype: 'FP32', data: [1] }],
        outputs: [{ name: 'probs', parameters: { binary_data: false } }, { name: 'logits' }],
      }),
      undefined,
    );
    expect(decoded.requestedOutputs).toEqual(['probs', 'logits']);
    expect(decoded.wantsBinary('probs')).toBe(false);
    expect(decoded.wantsBinary('logits')).toBe(true);
  });
});

describe('v2 infer response encoding', () => {
  const outputs = [
    { name: 'probs', datatype: 'FP32' as const, shape: [1, 3], data: new Float32Array([0.25, 0.5, 0.25]) },
    { name: 'label', datatype: 'BYTES' as const, shape: [1], data: [new Uint8Array(Buffer.from('tabby'))] },
    { name: 'raw', datatype: 'BYTES' as const, shape: [1], data: [new Uint8Array([0xff, 0xfe])] },
    { name: 'ids', datatype: 'INT64' as const, shape: [2], data: new BigInt64Array([5n, 7n]) },
  ];

  it('writes JSON outputs, with non-UTF-8 bytes as base64', () => {
    const res = encodeInferResponse({ model_name: 'm', model_version: '1', id: '42' }, outputs, () => false);
    expect(res.headerLength).toBeUndefined();
    const body = JSON.parse(res.body.toString());
    expect(body).toEqual({
      model_name: 'm',
      model_version: '1',
      id: '42',
      outputs: [
        { name: 'probs', datatype: 'FP32', shape: [1, 3], data: [0.25, 0.5, 0.25] },
        { name: 'label', datatype: 'BYTES', shape: [1], data: ['tabby'] },
        { name: 'raw', datatype: 'BYTES', shape: [1], data: ['//4='], parameters: { content_type: 'base64' } },
        { name: 'ids', datatype: 'INT64', shape: [2], data: [5, 7] },
      ],
    });
  });

  it('appends binary outputs after the header and round-trips through the request decoder', () => {
    const res = encodeInferResponse({ model_name: 'm', model_version: '1' }, outputs, (n) => n !== 'label');
    expect(res.contentType).toBe('application/octet-stream');
    const head = JSON.parse(res.body.subarray(0, res.headerLength).toString());
    expect(head.outputs[0]).toEqual({ name: 'probs', datatype: 'FP32', shape: [1, 3], parameters: { binary_data_size: 12 } });
    expect(head.outputs[1].data).toEqual(['tabby']);
    // The response's binary layout is the request's: feed it back as inputs.
    const asRequest = { inputs: head.outputs.filter((o: { data?: unknown }) => o.data === undefined) };
    const again = json(asRequest);
    const decoded = decodeInferRequest(Buffer.concat([again, res.body.subarray(res.headerLength)]), String(again.length));
    expect(decoded.tensors.map((t) => t.data)).toEqual([outputs[0]?.data, outputs[2]?.data, outputs[3]?.data]);
  });
});

describe('FP16', () => {
  it('round-trips representable values and rounds the rest to nearest', () => {
    for (const v of [0, 1, -2, 0.5, 65504, 6.103515625e-5, 5.960464477539063e-8]) expect(fromHalfBits(toHalfBits(v))).toBe(v);
    expect(fromHalfBits(toHalfBits(1e6))).toBe(Infinity);
    expect(fromHalfBits(toHalfBits(0.1))).toBeCloseTo(0.0999755859375, 10);
    expect(Number.isNaN(fromHalfBits(toHalfBits(NaN)))).toBe(true);
  });
});
