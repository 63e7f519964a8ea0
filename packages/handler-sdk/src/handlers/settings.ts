import { z } from 'zod';
import { ModelFailed } from '../errors.js';
import type { Context } from '../types.js';

/**
 * The keys of the model config's free-form `handler:` section that the SDK's handlers read; other
 * keys belong to custom handlers and pass through.
 */
export const HandlerSettingsSchema = z.looseObject({
  /** Image decoder: `sharp` (libvips, default) or `jimp` (pure JavaScript). */
  imageBackend: z.enum(['sharp', 'jimp']).optional(),
  /** sharp's JPEG decoder: `turbojpeg` (libjpeg-turbo's TurboJPEG library, must load) or `libvips`; unset, TurboJPEG where it loads. */
  jpegDecoder: z.enum(['turbojpeg', 'libvips']).optional(),
  /** Images declaring more pixels are refused before decoding (decompression bombs). */
  maxImagePixels: z.number().int().min(1).max(1_000_000_000).optional(),
  /** How many classes `ImageClassifier` answers when the request does not say. */
  topk: z.number().int().min(1).max(1000).optional(),
});

export type HandlerSettings = z.infer<typeof HandlerSettingsSchema>;

export function handlerSettings(context: Context): HandlerSettings {
  const parsed = HandlerSettingsSchema.safeParse(context.config.handler ?? {});
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => `handler.${i.path.join('.')}: ${i.message}`);
    throw new ModelFailed(`invalid model config: ${issues.join('; ')}`);
  }
  return parsed.data;
}
