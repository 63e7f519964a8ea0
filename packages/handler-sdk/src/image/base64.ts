import { ImageUnreadable } from '../errors.js';
import { sniffImageFormat, SUPPORTED_FORMATS } from './probe.js';

/** `data:image/jpeg;base64,` as browsers' `FileReader.readAsDataURL` writes it. */
const DATA_URI = /^data:[\w.+-]+\/[\w.+-]+(?:;[\w.+-]+=[\w.+-]+)*;base64,/i;
const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;
const BASE64URL = /^[A-Za-z0-9_-]+={0,2}$/;

/**
 * An image payload as bytes: the bytes themselves when they are an image, else base64 text of one
 * decoded. TorchServe's `VisionHandler` decodes a base64 string body, and clients send exactly that:
 * `curl -H 'Content-Type: text/plain' --data-binary @kitten.b64`, a form's text field, a JSON string,
 * a v2 `BYTES` element sent as text. Standard or URL-safe alphabet, padded or not, wrapped in lines
 * (`base64` wraps at 76 columns), with or without a `data:` URI prefix. Text that is base64 but not
 * of an image is refused as such; anything else is returned unchanged for the decoder to judge.
 */
export function imageBytes(payload: Uint8Array): Uint8Array {
  if (payload.length === 0 || sniffImageFormat(payload) !== undefined) return payload;
  const buffer = Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength);
  let text = buffer.toString('latin1').trim();
  const uri = DATA_URI.exec(text);
  if (uri !== null) text = text.slice(uri[0].length);
  const compact = text.replace(/\s+/g, '');
  const alphabet = BASE64.test(compact) ? 'base64' : BASE64URL.test(compact) ? 'base64url' : undefined;
  // Shorter than any image's base64 (a 1x1 GIF takes 36 characters): plain text, not an encoded image.
  if (alphabet === undefined || compact.length < 24 || compact.length % 4 === 1) return payload;
  const decoded = Buffer.from(compact, alphabet);
  if (sniffImageFormat(decoded) === undefined) {
    throw new ImageUnreadable(`the request body is base64 text, but what it encodes is not an image: expected ${SUPPORTED_FORMATS}`);
  }
  return decoded;
}
