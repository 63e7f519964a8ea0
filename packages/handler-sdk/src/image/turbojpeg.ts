/**
 * JPEG decoding with libjpeg-turbo's TurboJPEG API (`turbojpeg.h`), the library Pillow decodes with,
 * called through koffi (a prebuilt FFI, so nothing is compiled at install). The host provides the
 * library: Debian `libturbojpeg0`, Ubuntu `libturbojpeg`, Fedora `turbojpeg`, Homebrew `jpeg-turbo`.
 *
 * Why not libvips: sharp's libvips computes an image in strips on its own threads while the calling
 * thread waits, about 1 ms of hand-offs per image whatever its size (114 futex calls per image). The
 * same decode through TurboJPEG takes 2.1 ms of CPU for kitten.jpg (720 × 720) against libvips's
 * 5.4 ms, and 0.13 against 1.1 ms for the 224 × 168 Cat.jpg. With the accurate integer IDCT and
 * fancy upsampling (flags 0, libjpeg's defaults) the pixels are the ones Pillow and libvips decode,
 * bit for bit, on every shared photo.
 */
import { availableParallelism } from 'node:os';

/** `NODESERVE_TURBOJPEG_LIBRARY`: the TurboJPEG shared library to load instead of the usual names. */
export const TURBOJPEG_LIBRARY_ENV = 'NODESERVE_TURBOJPEG_LIBRARY';

/** Where hosts install TurboJPEG's shared library, by platform, tried in order. */
const LIBRARY_NAMES: Record<string, readonly string[]> = {
  linux: ['libturbojpeg.so.0', 'libturbojpeg.so'],
  darwin: ['libturbojpeg.dylib', '/opt/homebrew/opt/jpeg-turbo/lib/libturbojpeg.dylib', '/usr/local/opt/jpeg-turbo/lib/libturbojpeg.dylib'],
  win32: ['turbojpeg.dll'],
};

/** `TJPF_RGB`: 3 bytes per pixel, R, G, B. */
const TJPF_RGB = 0;
/**
 * `TJFLAG_STOPONWARNING`: a file that would decode with a warning (truncated, corrupt) is declined
 * anyway, so stop at the warning rather than decode it to the end first; no pixel of a clean file
 * changes. Otherwise flags 0: the accurate IDCT and fancy upsampling, libjpeg's and Pillow's defaults.
 */
const TJFLAG_STOPONWARNING = 8192;
/** `TJCS_RGB`, `TJCS_YCbCr`, `TJCS_GRAY`: the colour spaces TurboJPEG converts to RGB as Pillow does; CMYK and YCCK go to libvips. */
const RGB_COLORSPACES = new Set([0, 1, 2]);
/** `tjGetErrorCode`'s answer for a recoverable problem (the image decoded, perhaps corrupt), as opposed to `TJERR_FATAL`. */
const TJERR_WARNING = 0;
/** Decode buffers kept for reuse: at most this many, and at most `MAX_POOLED_BYTES` in all (a 5-megapixel photo's). */
const MAX_POOLED_BUFFERS = 8;
const MAX_POOLED_BYTES = 16 * 1024 * 1024;

/** A JPEG decoded to packed RGB: `width`×`height`×3 bytes, valid only during the `use` it is passed to. */
export interface DecodedJpeg {
  pixels: Uint8Array;
  width: number;
  height: number;
}

export interface TurboJpeg {
  /** The shared library in use, as it was loaded (a name or a path). */
  readonly library: string;
  /**
   * Decodes a JPEG to packed RGB with the accurate IDCT and resolves what `use` (synchronous)
   * makes of the pixels; their buffer is reused once `use` returns, and no more images are held
   * decoded at once than there are decodes running. Resolves `{ reason }` instead when TurboJPEG
   * cannot or should not decode (a CMYK or 12-bit file, more than `maxPixels`, a corrupt or
   * truncated file, a warning of any kind): the caller then decodes with libvips, which decides
   * whether the file is usable, so a file that TurboJPEG refuses is judged as before.
   */
  decode<T>(bytes: Uint8Array, maxPixels: number, use: (decoded: DecodedJpeg) => T): Promise<{ value: T } | { reason: string }>;
}

type Handle = unknown;
type Callback = (error: unknown, result: number) => void;
interface AsyncFunction {
  (...args: unknown[]): unknown;
  async(...args: unknown[]): void;
}

interface Api {
  init: () => Handle;
  header: (h: Handle, src: Uint8Array, size: number, w: number[], ht: number[], ss: number[], cs: number[]) => number;
  decompress: AsyncFunction;
  errorText: (h: Handle) => string;
  errorCode: (h: Handle) => number;
}

type Koffi = (typeof import('koffi'))['default'];

function bind(koffi: Koffi, library: string): Api {
  const lib = koffi.load(library);
  return {
    init: lib.func('void *tjInitDecompress()') as () => Handle,
    header: lib.func('int tjDecompressHeader3(void *handle, const uint8_t *jpegBuf, unsigned long jpegSize, _Out_ int *width, _Out_ int *height, _Out_ int *jpegSubsamp, _Out_ int *jpegColorspace)') as Api['header'],
    decompress: lib.func('int tjDecompress2(void *handle, const uint8_t *jpegBuf, unsigned long jpegSize, uint8_t *dstBuf, int width, int pitch, int height, int pixelFormat, int flags)') as AsyncFunction,
    // tjGetErrorStr2 is TurboJPEG 2.0's: an older library fails here and is not used.
    errorText: lib.func('const char *tjGetErrorStr2(void *handle)') as (h: Handle) => string,
    errorCode: lib.func('int tjGetErrorCode(void *handle)') as (h: Handle) => number,
  };
}

/**
 * Loads TurboJPEG from `library`, else `NODESERVE_TURBOJPEG_LIBRARY`, else the platform's usual
 * names. Throws with every name tried and why when none loads.
 */
export async function loadTurboJpeg(library?: string): Promise<TurboJpeg> {
  const koffi = (await import('koffi')).default;
  const chosen = library ?? process.env[TURBOJPEG_LIBRARY_ENV];
  const candidates = chosen !== undefined && chosen !== '' ? [chosen] : LIBRARY_NAMES[process.platform] ?? [];
  const failures: string[] = [];
  for (const name of candidates) {
    try {
      return turboJpeg(bind(koffi, name), name);
    } catch (error) {
      failures.push(`${name}: ${error instanceof Error ? error.message : String(error)}`);
    }
  }
  throw new Error(`libjpeg-turbo's TurboJPEG library (2.0 or later) could not be loaded (${failures.join('; ') || `no known name on ${process.platform}`})`);
}

/** The threads of libuv's pool as libuv reads `UV_THREADPOOL_SIZE` (`atoi`): 4 unset, else at least 1, at most 1024. */
function libuvPoolThreads(value: string | undefined): number {
  if (value === undefined) return 4;
  return Math.min(Math.max(Number.parseInt(value, 10) || 0, 1), 1024);
}

function turboJpeg(api: Api, library: string): TurboJpeg {
  // With a libuv pool of one thread (the server's single-threaded workers) the pool adds nothing but
  // hand-offs, and decoding on the calling thread costs 0.1-0.3 ms less per image; with more threads,
  // a batch's images decode in parallel on the pool, as libvips's did.
  const poolThreads = libuvPoolThreads(process.env['UV_THREADPOOL_SIZE']);
  const onCallingThread = poolThreads <= 1;
  const maxHandles = onCallingThread ? 1 : Math.min(poolThreads, availableParallelism() * 4);
  // A TurboJPEG handle serves one decode at a time; decodes beyond the pool's width wait here.
  const handles: Handle[] = [];
  let created = 0;
  const waiting: Array<(h: Handle) => void> = [];
  const acquire = (): Handle | Promise<Handle> => {
    const free = handles.pop();
    if (free !== undefined) return free;
    if (created < maxHandles) {
      const h = api.init();
      if (h === null) throw new Error('tjInitDecompress failed');
      created++;
      return h;
    }
    return new Promise<Handle>((resolve) => waiting.push(resolve));
  };
  const giveBack = (h: Handle): void => {
    const next = waiting.shift();
    if (next !== undefined) next(h);
    else handles.push(h);
  };
  // Decode buffers are reused: a fresh 1.5 MB buffer per image costs page faults on first touch
  // (0.3 ms per kitten.jpg on the calling thread, 0.8 ms on the pool).
  const buffers: Buffer[] = [];
  const take = (bytes: number): Buffer => {
    let best = -1;
    for (let i = 0; i < buffers.length; i++) {
      if (buffers[i]!.length >= bytes && (best < 0 || buffers[i]!.length < buffers[best]!.length)) best = i;
    }
    return best < 0 ? Buffer.allocUnsafeSlow(bytes) : buffers.splice(best, 1)[0]!;
  };
  const keep = (buffer: Buffer): void => {
    if (buffer.length > MAX_POOLED_BYTES) return;
    buffers.push(buffer);
    // Over the bounds, the largest go first: they are the rarest sizes.
    buffers.sort((a, b) => a.length - b.length);
    let total = buffers.reduce((n, b) => n + b.length, 0);
    while (buffers.length > MAX_POOLED_BUFFERS || total > MAX_POOLED_BYTES) total -= buffers.pop()!.length;
  };
  const width = [0];
  const height = [0];
  const subsampling = [0];
  const colorspace = [0];

  return {
    library,
    async decode(bytes, maxPixels, use) {
      const h = await acquire();
      let buffer: Buffer | undefined;
      try {
        if (api.header(h, bytes, bytes.byteLength, width, height, subsampling, colorspace) !== 0) return { reason: api.errorText(h) };
        const [w, ht, cs] = [width[0]!, height[0]!, colorspace[0]!];
        if (!RGB_COLORSPACES.has(cs)) return { reason: `colour space ${cs} (CMYK or YCCK)` };
        if (w * ht > maxPixels) return { reason: `${w}x${ht} is over the pixel limit` };
        buffer = take(w * ht * 3);
        const target = buffer;
        const status = onCallingThread
          ? (api.decompress(h, bytes, bytes.byteLength, target, w, 0, ht, TJPF_RGB, TJFLAG_STOPONWARNING) as number)
          : await new Promise<number>((resolve, reject) => {
            const done: Callback = (error, result) => (error ? reject(error) : resolve(result));
            api.decompress.async(h, bytes, bytes.byteLength, target, w, 0, ht, TJPF_RGB, TJFLAG_STOPONWARNING, done);
          });
        // A decode on the pool leaves its message in that thread's storage; the handle keeps the kind.
        if (status !== 0) {
          const kind = api.errorCode(h) === TJERR_WARNING ? 'warning' : 'error';
          return { reason: onCallingThread ? `${kind}: ${api.errorText(h)}` : `${kind} (decoded on the pool)` };
        }
        return { value: use({ pixels: target.subarray(0, w * ht * 3), width: w, height: ht }) };
      } finally {
        if (buffer !== undefined) keep(buffer);
        giveBack(h);
      }
    },
  };
}
