import { z } from 'zod';
import { ModelConfigSchema } from './model-config.js';

/** MMS and TorchServe's rule for model names; the server checks it again on every archive it loads. */
export const MODEL_NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;
export const ModelNameSchema = z
  .string()
  .max(128)
  .regex(MODEL_NAME_PATTERN, 'model name must start with a letter or digit and hold only letters, digits, "_", "-" and "."');

export const ModelVersionSchema = z
  .string()
  .min(1)
  .max(64)
  .regex(/^[A-Za-z0-9][A-Za-z0-9_.-]*$/, 'model version must start with a letter or digit and hold only letters, digits, "_", "-" and "."');

/** A path inside an archive: relative, forward slashes, no `.`/`..` segments, no empty segments. */
export const ArchivePathSchema = z
  .string()
  .min(1)
  .max(1024)
  .refine(
    (p) => !p.startsWith('/') && !p.includes('\\') && !p.includes('\0') && p.split('/').every((s) => s !== '' && s !== '.' && s !== '..'),
    'must be a relative path inside the archive, without "..", "." or empty segments',
  );

export const FileDigestSchema = z.strictObject({
  size: z.number().int().min(0),
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
});

/**
 * `MAR-INF/MANIFEST.json`. The TorchServe fields (`createdOn`, `runtime`, `archiverVersion`, `model.*`)
 * keep their names and meaning; `entryPoint`, `config` and `files` are what our server needs on top.
 * This schema is the only definition of the manifest: the archiver writes it, the safe reader and
 * the server parse it, and the handler SDK exposes it on the context.
 */
export const ManifestSchema = z.object({
  /** Local time as TorchServe writes it: `dd/mm/yyyy HH:MM:SS`. */
  createdOn: z.string(),
  runtime: z.literal('node'),
  archiverVersion: z.string(),
  /** Version of this manifest layout, for readers of later archives. */
  specificationVersion: z.literal('1.0'),
  model: z.object({
    modelName: ModelNameSchema,
    modelVersion: ModelVersionSchema,
    /**
     * The handler as TorchServe records it, by module name rather than the build machine's path:
     * `<handler file name without extension>:<export>`, e.g. `img_classifier_service:handle`.
     */
    handler: z.string().min(1),
    /** The model file (TorchServe's `--serialized-file`), a path inside the archive. */
    serializedFile: ArchivePathSchema.optional(),
    /** Per-model config file as given (`--config-file`), kept in the archive for reference. */
    configFile: ArchivePathSchema.optional(),
    description: z.string().max(4096).optional(),
  }),
  /** The handler compiled at archive time: one ESM bundle the worker imports. */
  entryPoint: z.strictObject({
    bundle: ArchivePathSchema,
    exportName: z.string().regex(/^[A-Za-z_$][A-Za-z0-9_$]*$/),
    /** The handler's source file, relative to the archive root, for stack traces and `inspect`. */
    source: z.string(),
  }),
  config: ModelConfigSchema,
  /** Every file in the archive except the manifest itself, with its digest. */
  files: z.record(ArchivePathSchema, FileDigestSchema),
});

export type Manifest = z.infer<typeof ManifestSchema>;
export type FileDigest = z.infer<typeof FileDigestSchema>;

export const MANIFEST_PATH = 'MAR-INF/MANIFEST.json';
