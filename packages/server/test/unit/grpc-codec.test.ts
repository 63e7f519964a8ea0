import { status } from '@grpc/grpc-js';
import {
  BadRequest, ExplainNotSupported, HandlerTimeout, ModelApiDisabled, ModelNotFound, PayloadTooLarge, QueueFull, SERVER_ERRORS, ServerConfigInvalid, Unauthorized,
} from '../../src/errors.js';
import { ServerConfigSchema } from '../../src/config/index.js';
import { decodeModelInferRequest, encodeModelInferResponse } from '../../src/grpc/infer-codec.js';
import type { ModelInferRequest } from '../../src/grpc/messages.js';
import { grpcStatusFor, toGrpcFailure } from '../../src/grpc/status.js';

/** A request as @grpc/proto-loader hands it over (repeated fields and maps present, int64 as strings). */
function request(partial: Partial<ModelInferRequest>): ModelInferRequest {
  return { parameters: {}, inputs: [], outputs: [], raw_input_contents: [], ...partial };
}
const input = (name: string, datatype: string, shape: Array<string | number>, contents?: Record<string, unknown>) => ({
  name, datatype, shape, parameters: {}, ...(contents === undefined ? {} : { contents }),
});

describe('gRPC ModelInferRequest decoding', () => {
  it('decodes typed contents, keeping 64-bit integers exact beyond JSON’s range', () => {
    const { tensors, rawOutputs } = decodeModelInferRequest(
      request({
        inputs: [
          input('a', 'FP32', ['2'], { fp32_contents: [1.5, -2] }),
          input('b', 'INT64', ['2'], { int64_contents: ['-9223372036854775808', '9007199254740993'] }),
          input('c', 'UINT64', ['1'], { uint64_contents: ['18446744073709551615'] }),
          input('d', 'INT8', ['2'], { int_contents: [-128, 127] }),
          input('e', 'BOOL', ['1'], { bool_contents: [true] }),
          input('f', 'BYTES', ['1'], { bytes_contents: [Buffer.from('hi')] }),
        ],
      }),
      1000,
    );
    expect(tensors.map((t) => t.data)).toEqual([
      new Float32Array([1.5, -2]),
      new BigInt64Array([-9223372036854775808n, 9007199254740993n]),
      new BigUint64Array([18446744073709551615n]),
      new Int8Array([-128, 127]),
      [true],
      [Buffer.from('hi')],
    ]);
    expect(tensors[0]?.shape).toEqual([2]);
    expect(rawOutputs).toBe(false);
  });

  it('decodes raw_input_contents laid out as the binary extension, and answers raw', () => {
    const { tensors, rawOutputs } = decodeModelInferRequest(
      request({
        inputs: [input('h', 'FP16', [2]), input('s', 'BYTES', [1])],
        raw_input_contents: [Buffer.from(new Uint16Array([0x3c00, 0xc000]).buffer), Buffer.from([2, 0, 0, 0, 0x68, 0x69])],
      }),
      1000,
    );
    expect(tensors[0]?.data).toEqual(new Uint16Array([0x3c00, 0xc000]));
    expect(Buffer.from(tensors[1]?.data[0] as Uint8Array).toString()).toBe('hi');
    expect(rawOutputs).toBe(true);
  });

  it('takes request and tensor parameters as the protocol’s plain values', () => {
    const decoded = decodeModelInferRequest(
      request({
        id: 'r1',
        parameters: { binary_data_output: { bool_param: true, parameter_choice: 'bool_param' }, top: { int64_param: '3', parameter_choice: 'int64_param' } },
        inputs: [{ ...input('a', 'FP32', [1], { fp32_contents: [1] }), parameters: { unit: { string_param: 'm', parameter_choice: 'string_param' } } }],
        outputs: [{ name: 'y', parameters: {} }],
      }),
      1000,
    );
    expect(decoded.request).toMatchObject({ id: 'r1', parameters: { binary_data_output: true, top: 3 } });
    expect(decoded.tensors[0]?.parameters).toEqual({ unit: 'm' });
    expect(decoded.requestedOutputs).toEqual(['y']);
    expect(decoded.rawOutputs).toBe(true);
  });

  it.each([
    ['an INT8 out of range', request({ inputs: [input('a', 'INT8', [1], { int_contents: [300] })] }), /element 0 of contents\.int_contents \(300\) is not a valid INT8/],
    ['a UINT8 in int_contents', request({ inputs: [input('a', 'UINT8', [1], { int_contents: [1] })] }), /go in contents\.uint_contents, but it has contents\.int_contents/],
    ['FP16 in contents', request({ inputs: [input('a', 'FP16', [1])] }), /send it in raw_input_contents/],
    ['too few elements', request({ inputs: [input('a', 'FP32', [3], { fp32_contents: [1] })] }), /has 1 elements .* needs 3/],
    ['a negative dimension', request({ inputs: [input('a', 'FP32', ['-1'], { fp32_contents: [] })] }), /inputs\.0\.shape\.0/],
    ['no inputs', request({}), /inputs/],
    ['one raw entry for two inputs', request({ inputs: [input('a', 'UINT8', [1]), input('b', 'UINT8', [1])], raw_input_contents: [Buffer.from([1])] }), /2 inputs/],
    [
      'raw and typed inputs mixed',
      request({ inputs: [input('a', 'UINT8', [1], { uint_contents: [1] })], raw_input_contents: [Buffer.from([1])] }),
      /send every input one way/,
    ],
    ['a raw entry of the wrong size', request({ inputs: [input('a', 'FP32', [2])], raw_input_contents: [Buffer.alloc(4)] }), /raw_input_contents entry of 4 bytes, but 2 FP32 elements take 8/],
    ['a parameter with no value', request({ parameters: { p: {} }, inputs: [input('a', 'BOOL', [1], { bool_contents: [true] })] }), /parameters\.p has no value/],
    [
      'an int64 parameter beyond 2^53',
      request({ parameters: { p: { int64_param: '9007199254740993', parameter_choice: 'int64_param' } }, inputs: [input('a', 'BOOL', [1], { bool_contents: [true] })] }),
      /beyond/,
    ],
  ])('refuses %s with BadRequest naming it', (_what, message, pattern) => {
    let thrown: unknown;
    try {
      decodeModelInferRequest(message, 1000);
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(BadRequest);
    expect((thrown as Error).message).toMatch(pattern);
  });
});

describe('gRPC ModelInferResponse encoding', () => {
  const head = { model_name: 'm', model_version: '1', id: 'r1', parameters: { ratio: 0.5, n: 2, ok: true } };

  it('answers in typed contents, 64-bit integers as exact decimal strings, parameters typed', () => {
    const response = encodeModelInferResponse(
      head,
      [
        { name: 'y', datatype: 'FP32', shape: [2], data: new Float32Array([1, 2]) },
        { name: 'n', datatype: 'INT64', shape: [1], data: new BigInt64Array([9007199254740993n]) },
      ],
      false,
    );
    expect(response).toEqual({
      model_name: 'm',
      model_version: '1',
      id: 'r1',
      parameters: { ratio: { string_param: '0.5' }, n: { int64_param: 2 }, ok: { bool_param: true } },
      outputs: [
        { name: 'y', datatype: 'FP32', shape: [2], contents: { fp32_contents: [1, 2] } },
        { name: 'n', datatype: 'INT64', shape: [1], contents: { int64_contents: ['9007199254740993'] } },
      ],
    });
  });

  it('answers every output raw when one has no contents field (FP16), as the proto forbids mixing', () => {
    const response = encodeModelInferResponse(
      { model_name: 'm', model_version: '1' },
      [
        { name: 'h', datatype: 'FP16', shape: [1], data: new Uint16Array([0x3c00]) },
        { name: 'b', datatype: 'BYTES', shape: [1], data: [Buffer.from('hi')] },
      ],
      false,
    );
    expect(response.outputs.every((o) => o.contents === undefined)).toBe(true);
    expect(response.raw_output_contents?.map((b) => Buffer.from(b))).toEqual([Buffer.from([0x00, 0x3c]), Buffer.from([2, 0, 0, 0, 0x68, 0x69])]);
  });
});

describe('gRPC status codes', () => {
  it('map the catalogue as KServe and Triton answer: 400, 401, 404, 413, 503, 504', () => {
    expect([BadRequest, Unauthorized, ModelNotFound, PayloadTooLarge, QueueFull, HandlerTimeout].map((e) => grpcStatusFor(e.status))).toEqual([
      status.INVALID_ARGUMENT, status.UNAUTHENTICATED, status.NOT_FOUND, status.RESOURCE_EXHAUSTED, status.UNAVAILABLE, status.DEADLINE_EXCEEDED,
    ]);
  });

  it('give every catalogue error a code of its class: client errors never a server’s, server errors never a client’s', () => {
    const serverSide: status[] = [status.INTERNAL, status.UNAVAILABLE, status.DEADLINE_EXCEEDED];
    const clientSide: status[] = [
      status.INVALID_ARGUMENT, status.UNAUTHENTICATED, status.PERMISSION_DENIED, status.NOT_FOUND, status.ALREADY_EXISTS, status.RESOURCE_EXHAUSTED,
    ];
    for (const error of SERVER_ERRORS) {
      const code = grpcStatusFor(error.status);
      const wrongClass = error.status >= 500 ? clientSide.includes(code) : serverSide.includes(code);
      expect([error.code, status[code], wrongClass]).toEqual([error.code, status[code], false]);
    }
    // Not implemented here, for whatever reason: the model API switched off (405), KServe v1 :explain (501).
    expect([ModelApiDisabled, ExplainNotSupported].map((e) => grpcStatusFor(e.status))).toEqual([status.UNIMPLEMENTED, status.UNIMPLEMENTED]);
  });

  it('carry the stable code and Retry-After in trailing metadata; the unexpected stays INTERNAL without details', () => {
    const limits = { maxRequestSize: 6_553_500 };
    const full = toGrpcFailure(new QueueFull('m', 10, 2), limits);
    expect([full.code, full.metadata.get('error-type'), full.metadata.get('retry-after')]).toEqual([status.UNAVAILABLE, ['QueueFull'], ['2']]);
    const unexpected = toGrpcFailure(new Error('secret path /etc/x'), limits);
    expect([unexpected.code, unexpected.details]).toEqual([status.INTERNAL, 'Internal server error; the server log has the details']);
    expect(toGrpcFailure(new ServerConfigInvalid('x'), limits).code).toBe(status.INTERNAL);
  });
});

describe('grpc_inference_address', () => {
  it('defaults to 127.0.0.1:9000 and takes host:port, http://host:port, or a host alone (port 9000)', () => {
    const parse = (value?: string) => ServerConfigSchema.parse(value === undefined ? {} : { grpc_inference_address: value }).grpc_inference_address;
    expect(parse()).toEqual({ host: '127.0.0.1', port: 9000 });
    expect(parse('0.0.0.0:7070')).toEqual({ host: '0.0.0.0', port: 7070 });
    expect(parse('[::1]:0')).toEqual({ host: '::1', port: 0 });
    expect(parse('http://127.0.0.1:9001')).toEqual({ host: '127.0.0.1', port: 9001 });
    expect(parse('0.0.0.0')).toEqual({ host: '0.0.0.0', port: 9000 });
    expect(parse('::1')).toEqual({ host: '::1', port: 9000 });
    expect(parse('[::1]')).toEqual({ host: '::1', port: 9000 });
    expect(() => parse('http://127.0.0.1')).toThrow(/host:port/);
    expect(() => parse('https://127.0.0.1:9000')).toThrow(/only http/);
  });
});
