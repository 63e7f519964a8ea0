export interface ArchiveLimits {
  maxEntries: number;
  maxTotalBytes: number;
  maxEntryBytes: number;
  maxCompressionRatio: number;
}

const GiB = 1024 ** 3;

/** Generous for real models (a 2 GiB ONNX file is the protobuf ceiling), small enough to stop bombs. */
export const DEFAULT_ARCHIVE_LIMITS: ArchiveLimits = Object.freeze({
  maxEntries: 10_000,
  maxTotalBytes: 4 * GiB,
  maxEntryBytes: 2 * GiB,
  maxCompressionRatio: 200,
});

/**
 * Small files of repeated text (JSON label maps, padding) legitimately deflate hundreds of times;
 * they cannot hurt anyone, so the ratio is enforced only once an entry or stream expands past this.
 */
export const RATIO_CHECK_FLOOR_BYTES = 1024 * 1024;

export function resolveLimits(limits: Partial<ArchiveLimits> = {}): ArchiveLimits {
  const merged = { ...DEFAULT_ARCHIVE_LIMITS };
  for (const key of Object.keys(merged) as (keyof ArchiveLimits)[]) {
    const value = limits[key];
    if (value === undefined) continue;
    if (!(typeof value === 'number' && value > 0 && Number.isFinite(value))) {
      throw new RangeError(`archive limit ${key} must be a positive number, got ${String(value)}`);
    }
    merged[key] = value;
  }
  return merged;
}
