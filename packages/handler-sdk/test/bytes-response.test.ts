import { describe, expect, it } from '@jest/globals';
import { bytesResponse, isBytesResponse, isTensorResponse } from '@nodeserve/handler-sdk';

describe('bytesResponse', () => {
  it('carries bytes with their content type, and isBytesResponse recognises only that shape', () => {
    const png = new Uint8Array([0x89, 0x50, 0x4e, 0x47]);
    const answer = bytesResponse(png, 'image/png');
    expect(answer).toEqual({ kind: 'bytes', data: png, contentType: 'image/png' });
    expect(answer.data).toBe(png);
    expect(isBytesResponse(answer)).toBe(true);
    expect(isBytesResponse(bytesResponse(Buffer.from('a,b\n'), 'text/csv; charset=utf-8'))).toBe(true);
    expect(isTensorResponse(answer)).toBe(false);
    for (const other of [png, null, 'image/png', { kind: 'bytes', data: [1, 2], contentType: 'image/png' }, { kind: 'bytes', data: png }, { kind: 'tensors', outputs: [] }]) {
      expect(isBytesResponse(other)).toBe(false);
    }
  });

  it('refuses a content type that is not a media type, or that would split a header', () => {
    for (const bad of ['', 'png', 'image/png\r\nx-injected: 1', 'image/png; charset', `image/${'x'.repeat(300)}`]) {
      expect(() => bytesResponse(new Uint8Array(1), bad)).toThrow(TypeError);
    }
  });
});

