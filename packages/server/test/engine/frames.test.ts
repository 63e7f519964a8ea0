import { describe, expect, it } from '@jest/globals';
import { PayloadBuilder } from '../../src/workers/frames.js';
import { encodeRequest, isJsonContentType } from '../../src/workers/protocol.js';

describe('frame payloads', () => {
  it('carries the same bytes once, whichever view object holds them, and different ranges separately', () => {
    const image = Buffer.alloc(100 * 1024, 7);
    const payload = new PayloadBuilder();
    const body = payload.add(image);
    expect(payload.add(image.subarray(0))).toBe(body);
    expect(payload.add(new Uint8Array(image.buffer, image.byteOffset, image.byteLength))).toBe(body);
    const head = payload.add(image.subarray(0, 10));
    expect(head).not.toBe(body);
    expect(payload.add(image.subarray(1, 11))).not.toBe(head);
    expect(payload.add(Buffer.from(image))).not.toBe(body);
    expect(payload.segments).toHaveLength(4);
  });

  it('sends a JSON body as bytes with a flag to parse it, never as JSON in the header', () => {
    const body = Buffer.from(JSON.stringify({ big: 'x'.repeat(1000) }));
    const input = { requestId: 'r1', body, data: body, form: { data: body }, json: { big: 'x' }, headers: {}, query: {}, contentType: 'application/json' };
    const payload = new PayloadBuilder();
    const wire = encodeRequest(input, payload, true);
    expect(JSON.stringify(wire)).not.toContain('xxxx');
    expect(wire.parseJson).toBe(true);
    expect(payload.segments).toHaveLength(1);
    expect(encodeRequest(input, new PayloadBuilder(), false).parseJson).toBeUndefined();
  });

  it('knows JSON media types', () => {
    expect(isJsonContentType('application/json')).toBe(true);
    expect(isJsonContentType('Application/JSON; charset=utf-8')).toBe(true);
    expect(isJsonContentType('application/problem+json')).toBe(true);
    expect(isJsonContentType('text/json-ish')).toBe(false);
    expect(isJsonContentType('application/jsonx')).toBe(false);
    expect(isJsonContentType(undefined)).toBe(false);
  });
});
