import { BadRequest, TooManyInstances } from '../../src/errors.js';
import { decodeBase64, decodeInstance, parsePredictBody, V1_LIMITS } from '../../src/http/v1/index.js';

const bytes = Buffer.from([0xff, 0xd8, 0xff, 0xe0, 0x00, 0x10, 0x4a, 0x46, 0xfb, 0xef]);
const json = (value: unknown) => Buffer.from(JSON.stringify(value));

describe('KServe v1 predict body', () => {
  it('takes "instances", or KServe’s "inputs", and ignores TF Serving’s other fields', () => {
    expect(parsePredictBody(json({ instances: [1, 2], signature_name: 'serving_default' }))).toEqual([1, 2]);
    expect(parsePredictBody(json({ inputs: [{ data: 'AAAA' }] }))).toEqual([{ data: 'AAAA' }]);
  });

  it.each([
    ['not JSON', Buffer.from('{"instances": ['), /not valid JSON/],
    ['a list', json([1]), /must be a JSON object/],
    ['null', json(null), /must be a JSON object/],
    ['no instances', json({ instance: [1] }), /no "instances"/],
    ['columnar inputs', json({ inputs: { image: [1] } }), /Expected "inputs" to be a list/],
    ['both lists', json({ instances: [1], inputs: [1] }), /both/],
    ['an empty list', json({ instances: [] }), /empty/],
  ])('refuses %s with BadRequest', (_what, body, message) => {
    expect(() => parsePredictBody(body)).toThrow(BadRequest);
    expect(() => parsePredictBody(body)).toThrow(message);
  });

  it(`takes ${V1_LIMITS.maxInstances} instances and refuses one more with TooManyInstances`, () => {
    expect(parsePredictBody(json({ instances: Array(V1_LIMITS.maxInstances).fill(0) }))).toHaveLength(V1_LIMITS.maxInstances);
    expect(() => parsePredictBody(json({ instances: Array(V1_LIMITS.maxInstances + 1).fill(0) }))).toThrow(TooManyInstances);
  });
});

describe('KServe v1 instance', () => {
  it('sends {"data"}, {"body"} and {"b64"} base64 strings to the handler as their bytes', () => {
    for (const field of ['data', 'body', 'b64']) {
      expect(decodeInstance({ [field]: bytes.toString('base64') }, 0)).toEqual({ body: bytes, contentType: 'application/octet-stream' });
    }
  });

  it('sends any other instance as a JSON body', () => {
    for (const instance of [[1, 2, 3], 'some text', 42, null, { data: [[0.5, 1]] }, { text: 'hello', topk: 2 }]) {
      expect(decodeInstance(instance, 0)).toEqual({ body: json(instance), contentType: 'application/json' });
    }
  });

  it('refuses a base64 instance with other fields, naming them and where options go', () => {
    expect(() => decodeInstance({ data: 'AAAA', topk: 3 }, 4)).toThrow(/^Instance 4: "data" holds .*\("topk"\).*query string/);
    expect(() => decodeInstance({ data: 'AAAA', body: 'AAAA' }, 0)).toThrow(BadRequest);
  });

  it('refuses a "b64" that is not a string', () => {
    expect(() => decodeInstance({ b64: [1, 2] }, 2)).toThrow('Instance 2: "b64" must be a base64 string');
  });

  it('refuses JSON nested deeper than the limit without exhausting the stack', () => {
    let shallow: unknown = 1;
    for (let i = 0; i < V1_LIMITS.maxNestingDepth; i++) shallow = [shallow];
    expect(decodeInstance(shallow, 0).contentType).toBe('application/json');
    const deep = JSON.parse(`${'['.repeat(200_000)}${']'.repeat(200_000)}`) as unknown;
    expect(() => decodeInstance(deep, 1)).toThrow(`Instance 1 is nested more than ${V1_LIMITS.maxNestingDepth} levels deep`);
    expect(() => decodeInstance({ a: [[[{ b: shallow }]]] }, 0)).toThrow(BadRequest);
  });
});

describe('decodeBase64', () => {
  const standard = bytes.toString('base64');

  it('reads the standard and URL-safe alphabets, with or without padding, wrapped lines and a data: URL prefix', () => {
    expect(standard).toMatch(/[+/]/);
    for (const text of [
      standard,
      bytes.toString('base64url'),
      standard.replace(/=+$/, ''),
      `${standard.slice(0, 4)}\n${standard.slice(4, 8)}\r\n${standard.slice(8)}`,
      `data:image/jpeg;base64,${standard}`,
    ]) {
      expect(decodeBase64(text, 'x')).toEqual(bytes);
    }
    expect(decodeBase64('', 'x')).toEqual(Buffer.alloc(0));
  });

  it.each([
    ['characters outside the alphabet', 'not base64!'],
    ['a length no encoding has', 'AAAAA'],
    ['padding in the middle', 'AA==AAAA'],
    ['too much padding', 'A==='],
    ['padding with a wrong length', 'AAA=A=='],
    ['a data URL that is not base64', 'data:text/plain,hello'],
  ])('refuses %s instead of skipping what it cannot read', (_what, text) => {
    expect(() => decodeBase64(text, 'Instance 0: "data"')).toThrow('Instance 0: "data" is not valid base64');
  });
});
