/**
 * Bounds on a multipart form, on top of `max_request_size` for each file and for the whole of it.
 * Kept apart from the parser so the error mapping can name them without loading it.
 */
export const MULTIPART_LIMITS = {
  fields: 64,
  files: 16,
  parts: 80,
  fieldNameSize: 200,
  /** Bytes of one text field. */
  fieldSize: 1024 * 1024,
  headerPairs: 200,
} as const;
