import { describe, expect, it } from '@jest/globals';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  imagenetTransform, preprocessImage, selectImageBackend, type ImageBackend, type Logger,
} from '@nodeserve/handler-sdk';
import sharp from 'sharp';
import { loadTurboJpeg, type DecodedJpeg, type TurboJpeg } from '../src/image/turbojpeg.js';
import { image, SHARED_IMAGES } from '../../../test/support/handler-context.js';

const silent: Logger = { debug: () => {}, info: () => {}, warn: () => {}, error: () => {} };
const transform = imagenetTransform(224);
const photos = readdirSync(SHARED_IMAGES).filter((f) => /\.jpe?g$/i.test(f)).sort();

// CI installs libjpeg-turbo's TurboJPEG library (.ci/run), so there these tests always run; a
// developer machine without it skips them and serves JPEGs through libvips.
const turbo: TurboJpeg | undefined = await loadTurboJpeg().catch(() => undefined);
const withTurbo = turbo === undefined ? it.skip : it;

/** Largest difference of two tensors in 8-bit levels (each channel's normalisation undone). */
function maxLevels(a: Float32Array, b: Float32Array): number {
  const plane = a.length / 3;
  let max = 0;
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs(a[i]! - b[i]!) * 255 * transform.std[Math.floor(i / plane)]!);
  return max;
}

/** TurboJPEG's pixels, copied out of the buffer it reuses, or why it declined. */
function decode(bytes: Uint8Array, maxPixels = 1e9): Promise<DecodedJpeg | { reason: string }> {
  return turbo!.decode(bytes, maxPixels, (d) => ({ ...d, pixels: Buffer.from(d.pixels) }))
    .then((r) => ('value' in r ? r.value : r));
}

function decoded(result: DecodedJpeg | { reason: string }): DecodedJpeg {
  if (!('pixels' in result)) throw new Error(`TurboJPEG declined: ${result.reason}`);
  return result;
}

describe('TurboJPEG', () => {
  it('is found on CI hosts, where .ci/run installs it', () => {
    if (process.env['CI'] === 'true') expect(turbo?.library).toMatch(/turbojpeg/);
  });

  withTurbo('decodes every shared photo to the pixels libvips decodes', async () => {
    expect(photos.length).toBeGreaterThanOrEqual(9);
    for (const name of photos) {
      const bytes = image(name);
      const ours = decoded(await decode(bytes));
      const { data, info } = await sharp(bytes, { ignoreIcc: true }).raw().toBuffer({ resolveWithObject: true });
      expect([ours.width, ours.height]).toEqual([info.width, info.height]);
      // Both are libjpeg-turbo's accurate integer IDCT with fancy upsampling, which its SIMD paths
      // compute exactly as its C code; one level is left for a build that rounds otherwise.
      let max = 0;
      for (let i = 0; i < data.length; i++) max = Math.max(max, Math.abs(data[i]! - ours.pixels[i]!));
      expect({ name, max: max <= 1 }).toEqual({ name, max: true });
    }
  });

  withTurbo('decodes progressive, greyscale and 4:4:4 files to the pixels libvips decodes', async () => {
    const kitten = image('kitten.jpg');
    const variants = {
      progressive: await sharp(kitten).jpeg({ quality: 90, progressive: true }).toBuffer(),
      greyscale: await sharp(kitten).greyscale().jpeg({ quality: 90 }).toBuffer(),
      '4:4:4': await sharp(kitten).jpeg({ quality: 90, chromaSubsampling: '4:4:4' }).toBuffer(),
    };
    for (const [kind, bytes] of Object.entries(variants)) {
      const ours = decoded(await decode(bytes));
      const { data, info } = await sharp(bytes, { ignoreIcc: true }).toColourspace('srgb').raw().toBuffer({ resolveWithObject: true });
      expect([kind, ours.width, ours.height, info.channels]).toEqual([kind, 720, 720, 3]);
      let max = 0;
      for (let i = 0; i < data.length; i++) max = Math.max(max, Math.abs(data[i]! - ours.pixels[i]!));
      expect({ kind, max: max <= 1 }).toEqual({ kind, max: true });
    }
  });

  withTurbo('leaves photos 4x the resize and larger to libvips, which shrinks them while decoding', async () => {
    const [viaTurbo, viaLibvips] = await Promise.all([
      selectImageBackend(silent, 'sharp', 'turbojpeg'),
      selectImageBackend(silent, 'sharp', 'libvips'),
    ]);
    for (const [w, h, byTurbo] of [[1280, 960, true], [1400, 1050, false], [4032, 3024, false]] as const) {
      const bytes = await sharp(image('bus.jpg')).resize(w, h, { fit: 'fill' }).jpeg({ quality: 90 }).toBuffer();
      const ours = await preprocessImage(bytes, viaTurbo, transform);
      const libvips = await preprocessImage(bytes, viaLibvips, transform);
      // Under 4 × 256 on the shorter side TurboJPEG decodes (the tensors differ a little from
      // libvips's); from there on the sharp backend hands the file to libvips (the same tensor).
      expect({ w, h, same: maxLevels(ours, libvips) === 0 }).toEqual({ w, h, same: !byTurbo });
    }
  }, 30_000);

  withTurbo('gives the tensors of the libvips path for every EXIF orientation, shrinking and enlarging', async () => {
    const [viaTurbo, viaLibvips] = await Promise.all([
      selectImageBackend(silent, 'sharp', 'turbojpeg'),
      selectImageBackend(silent, 'sharp', 'libvips'),
    ]);
    expect(viaTurbo.jpegDecoder).toMatch(/^turbojpeg \(/);
    expect(viaLibvips.jpegDecoder).toBe('libvips');
    // Dog1 (500×546), Cat (224×168, enlarged), bus (810×1080): tall, small and portrait sources.
    for (const name of ['Dog1.jpg', 'Cat.jpg', 'bus.jpg']) {
      const upright = await preprocessImage(image(name), viaTurbo, transform);
      for (let orientation = 1; orientation <= 8; orientation++) {
        const bytes = await sharp(image(name)).withMetadata({ orientation }).jpeg({ quality: 90 }).toBuffer();
        const ours = await preprocessImage(bytes, viaTurbo, transform);
        const theirs = await preprocessImage(bytes, viaLibvips, transform);
        // The same decoded pixels turned the same way; libvips mirrors some orientations after its
        // reduce rather than before, which moves a pixel by up to 2 levels (Dog1.jpg, orientation 2).
        expect({ name, orientation, levels: maxLevels(ours, theirs) <= 3 }).toEqual({ name, orientation, levels: true });
        // And the orientation is applied at all: an upright photo differs from a mirrored or turned one.
        if (orientation > 1) expect(maxLevels(ours, upright)).toBeGreaterThan(50);
      }
    }
  });

  withTurbo('leaves to libvips what it declines: CMYK files and truncated ones', async () => {
    const viaTurbo = await selectImageBackend(silent, 'sharp', 'turbojpeg');
    const viaLibvips = await selectImageBackend(silent, 'sharp', 'libvips');
    const cmyk = await sharp(image('kitten.jpg')).toColourspace('cmyk').jpeg({ quality: 95 }).toBuffer();
    expect(await decode(cmyk)).toEqual({ reason: expect.stringMatching(/CMYK/) });
    expect(maxLevels(await preprocessImage(cmyk, viaTurbo, transform), await preprocessImage(cmyk, viaLibvips, transform))).toBe(0);
    const kitten = image('kitten.jpg');
    expect(await decode(kitten.subarray(0, 50_000))).toEqual({ reason: expect.stringMatching(/^warning/) });
    await expect(preprocessImage(kitten.subarray(0, 50_000), viaTurbo, transform)).rejects.toMatchObject({ code: 'ImageUnreadable' });
    expect(await decode(kitten, 720 * 720 - 1)).toEqual({ reason: expect.stringMatching(/pixel limit/) });
  });

  withTurbo('decodes many images at once into buffers of their own, each as it decodes alone', async () => {
    // The jest process has libuv's default pool of 4, so this runs the decodes on the pool with a
    // TurboJPEG handle each, and reuses released buffers between rounds.
    const names = ['kitten.jpg', 'Cat.jpg', 'bus.jpg', 'dog.jpg'];
    const alone = new Map<string, Buffer>();
    for (const name of names) {
      alone.set(name, Buffer.from(decoded(await decode(image(name))).pixels));
    }
    for (let round = 0; round < 3; round++) {
      const order = Array.from({ length: 16 }, (_, i) => names[(i * 7 + round) % names.length]!);
      const results = await Promise.all(order.map(async (name) => decoded(await decode(image(name)))));
      results.forEach((r, i) => expect(Buffer.compare(Buffer.from(r.pixels), alone.get(order[i]!)!)).toBe(0));
    }
  });

  withTurbo('gives each of many images in flight its own pixels through the whole path', async () => {
    const viaTurbo = await selectImageBackend(silent, 'sharp', 'turbojpeg');
    const names = ['kitten.jpg', 'dog.jpg', 'Dog2.jpg'];
    const alone = new Map<string, Float32Array>();
    for (const name of names) alone.set(name, await preprocessImage(image(name), viaTurbo, transform));
    const order = Array.from({ length: 24 }, (_, i) => names[i % names.length]!);
    const together = await Promise.all(order.map((name) => preprocessImage(image(name), viaTurbo, transform)));
    together.forEach((tensor, i) => expect({ i, same: maxLevels(tensor, alone.get(order[i]!)!) === 0 }).toEqual({ i, same: true }));
  });

  withTurbo('decodes on the calling thread when libuv has one pool thread, as in the server\'s workers', async () => {
    const viaTurbo = await selectImageBackend(silent, 'sharp', 'turbojpeg');
    const digests = await Promise.all(['kitten.jpg', 'bus.jpg'].map(async (name) => createHash('sha256').update(await preprocessImage(image(name), viaTurbo, transform)).digest('hex')));
    const child = spawnSync(process.execPath, ['--input-type=module', '-e', `
      import { readFileSync } from 'node:fs';
      import { createHash } from 'node:crypto';
      import { imagenetTransform, preprocessImage, selectImageBackend } from '@nodeserve/handler-sdk';
      const backend = await selectImageBackend({ debug() {}, info() {}, warn() {}, error() {} }, 'sharp', 'turbojpeg');
      const t = imagenetTransform(224);
      const images = ['kitten.jpg', 'bus.jpg'].map((name) => readFileSync(${JSON.stringify(SHARED_IMAGES)} + '/' + name));
      // Together, as a batch is decoded: the second decodes while libvips resizes the first.
      const tensors = await Promise.all(images.map((bytes) => preprocessImage(bytes, backend, t)));
      for (const tensor of tensors) console.log(createHash('sha256').update(tensor).digest('hex'));
      console.log(await preprocessImage(images[0].subarray(0, 50000), backend, t).catch((e) => e.code));
    `], { cwd: dirname(fileURLToPath(import.meta.url)), env: { ...process.env, UV_THREADPOOL_SIZE: '1' }, encoding: 'utf8', timeout: 30_000 });
    expect(child.stderr).toBe('');
    expect(child.stdout.split('\n')).toEqual([...digests, 'ImageUnreadable', '']);
  });

  it('is chosen by NODESERVE_JPEG_DECODER, and loaded from NODESERVE_TURBOJPEG_LIBRARY when set', async () => {
    const saved = { ...process.env };
    try {
      process.env['NODESERVE_JPEG_DECODER'] = 'libvips';
      expect((await selectImageBackend(silent)).jpegDecoder).toBe('libvips');
      await expect(selectImageBackend(silent, 'jimp', 'turbojpeg')).rejects.toThrow(/"turbojpeg" works with the sharp image backend, not jimp/);
      expect((await selectImageBackend(silent, 'jimp', 'libvips')).name).toBe('jimp');
      process.env['NODESERVE_JPEG_DECODER'] = 'jpeglib';
      await expect(selectImageBackend(silent)).rejects.toThrow(/NODESERVE_JPEG_DECODER must be "turbojpeg" or "libvips", not "jpeglib"/);
      delete process.env['NODESERVE_JPEG_DECODER'];
      process.env['NODESERVE_TURBOJPEG_LIBRARY'] = '/nonexistent/libturbojpeg.so.0';
      await expect(loadTurboJpeg()).rejects.toThrow(/TurboJPEG library \(2\.0 or later\) could not be loaded \(\/nonexistent\/libturbojpeg\.so\.0: /);
    } finally {
      process.env = saved;
    }
  });

  it('falls back to libvips, saying how to get TurboJPEG, unless TurboJPEG was asked for', () => {
    // A process of its own: the backend loads TurboJPEG once per process.
    const select = (env: Record<string, string>): { status: number | null; stdout: string; stderr: string } => spawnSync(process.execPath, ['--input-type=module', '-e', `
      import { selectImageBackend } from '@nodeserve/handler-sdk';
      const log = (level) => (message) => console.log(level, message);
      const backend = await selectImageBackend({ debug() {}, info: log('info'), warn: log('warn'), error: log('error') });
      console.log('decoder', backend.jpegDecoder);
    `], { cwd: dirname(fileURLToPath(import.meta.url)), env: { ...process.env, ...env }, encoding: 'utf8', timeout: 30_000 });
    const fallback = select({ NODESERVE_TURBOJPEG_LIBRARY: '/nonexistent/libturbojpeg.so.0' });
    expect(fallback.status).toBe(0);
    expect(fallback.stdout).toMatch(/^info JPEGs are decoded by libvips: install libjpeg-turbo's TurboJPEG library \(Debian: libturbojpeg0, Ubuntu: libturbojpeg\)/m);
    expect(fallback.stdout).toMatch(/^decoder libvips$/m);
    const required = select({ NODESERVE_TURBOJPEG_LIBRARY: '/nonexistent/libturbojpeg.so.0', NODESERVE_JPEG_DECODER: 'turbojpeg' });
    expect(required.status).not.toBe(0);
    expect(required.stderr).toMatch(/TurboJPEG library \(2\.0 or later\) could not be loaded \(\/nonexistent\/libturbojpeg\.so\.0/);
    if (turbo !== undefined) expect(select({}).stdout).toMatch(/^decoder turbojpeg \(libturbojpeg/m);
  });

  it('refuses a library without TurboJPEG\'s functions, naming it', async () => {
    await expect(loadTurboJpeg('libc.so.6')).rejects.toThrow(/libc\.so\.6: .*tjInitDecompress/);
  });
});
