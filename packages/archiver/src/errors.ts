import { NodeserveError } from '@nodeserve/errors';

/**
 * The archiver's error catalogue. Each class is named after its stable `code` and declares its
 * status; `docs/errors.md` lists every one (a test checks). Two families:
 * - `ArchiveError`: the archive reader refused an archive. Archives come from clients (registration,
 *   uploads), so a refusal is the client's problem: 400, the message naming the entry.
 * - `ArchiveBuildError`: `model-archiver` cannot build what it was asked to (bad options, missing
 *   inputs, a handler that does not compile); the CLI prints `code: message` and exits 1.
 */
export abstract class ArchiveError extends NodeserveError {}

export class ArchiveUnsafePath extends ArchiveError {
  static readonly code = 'ArchiveUnsafePath';
  static readonly status = 400;
  constructor(entry: string, why: string) {
    super(`unsafe entry path ${JSON.stringify(entry)}: ${why}`);
  }
}

export class ArchiveLink extends ArchiveError {
  static readonly code = 'ArchiveLink';
  static readonly status = 400;
  constructor(entry: string, kind: string) {
    super(`entry ${JSON.stringify(entry)} is a ${kind}; archives may hold only regular files and directories`);
  }
}

export class ArchiveTooManyEntries extends ArchiveError {
  static readonly code = 'ArchiveTooManyEntries';
  static readonly status = 400;
  constructor(limit: number) {
    super(`archive holds more than ${limit} entries`);
  }
}

export class ArchiveTooLarge extends ArchiveError {
  static readonly code = 'ArchiveTooLarge';
  static readonly status = 400;
  constructor(what: string) {
    super(what);
  }
}

export class ArchiveCompressionRatio extends ArchiveError {
  static readonly code = 'ArchiveCompressionRatio';
  static readonly status = 400;
  constructor(what: string, limit: number) {
    super(`${what} expands more than ${limit} times its compressed size`);
  }
}

export class ManifestMissing extends ArchiveError {
  static readonly code = 'ManifestMissing';
  static readonly status = 400;
  constructor(manifestPath: string) {
    super(`archive has no ${manifestPath}`);
  }
}

export class ManifestInvalid extends ArchiveError {
  static readonly code = 'ManifestInvalid';
  static readonly status = 400;
  constructor(why: string) {
    super(`invalid manifest: ${why}`);
  }
}

export class ArchiveFileMissing extends ArchiveError {
  static readonly code = 'ArchiveFileMissing';
  static readonly status = 400;
  constructor(file: string, namedBy: string) {
    super(`${namedBy} names ${JSON.stringify(file)}, which is not in the archive`);
  }
}

export class ArchiveFileUnlisted extends ArchiveError {
  static readonly code = 'ArchiveFileUnlisted';
  static readonly status = 400;
  constructor(file: string) {
    super(`entry ${JSON.stringify(file)} is not listed in the manifest's files`);
  }
}

export class ArchiveDuplicateEntry extends ArchiveError {
  static readonly code = 'ArchiveDuplicateEntry';
  static readonly status = 400;
  constructor(file: string) {
    super(`entry ${JSON.stringify(file)} appears more than once`);
  }
}

export class ArchiveDigestMismatch extends ArchiveError {
  static readonly code = 'ArchiveDigestMismatch';
  static readonly status = 400;
  constructor(file: string, what: string) {
    super(`${JSON.stringify(file)}: ${what} does not match the manifest`);
  }
}

export class ArchiveUnreadable extends ArchiveError {
  static readonly code = 'ArchiveUnreadable';
  static readonly status = 400;
  constructor(why: string) {
    super(why);
  }
}

export class ArchiveDestination extends ArchiveError {
  static readonly code = 'ArchiveDestination';
  static readonly status = 400;
  constructor(dir: string, why: string) {
    super(`cannot extract into ${dir}: ${why}`);
  }
}

/** Raised while building an archive; every message names the flag or file at fault. */
export abstract class ArchiveBuildError extends NodeserveError {}

/** A flag's value is not one the archiver accepts (`--runtime`, `--archive-format`, a model name…). */
export class InvalidOption extends ArchiveBuildError {
  static readonly code = 'InvalidOption';
  static readonly status = 400;
}

/** A file or directory named by a flag does not exist or cannot be read. */
export class InputMissing extends ArchiveBuildError {
  static readonly code = 'InputMissing';
  static readonly status = 400;
}

/** An input directory is too deep or holds too many files. */
export class InputInvalid extends ArchiveBuildError {
  static readonly code = 'InputInvalid';
  static readonly status = 400;
}

/** Two inputs would be stored under one path, or an input under a path the archiver reserves. */
export class InputConflict extends ArchiveBuildError {
  static readonly code = 'InputConflict';
  static readonly status = 400;
}

/** The archive exists and `--force` was not given. */
export class OutputExists extends ArchiveBuildError {
  static readonly code = 'OutputExists';
  static readonly status = 400;
}

/** `--config-file` is not YAML/JSON, too large, or not a valid model config. */
export class ConfigInvalid extends ArchiveBuildError {
  static readonly code = 'ConfigInvalid';
  static readonly status = 400;
}

/** `--handler` names no module or file that exists. */
export class HandlerNotFound extends ArchiveBuildError {
  static readonly code = 'HandlerNotFound';
  static readonly status = 400;
}

/** `--handler` is malformed: a bad export name or file extension. */
export class HandlerInvalid extends ArchiveBuildError {
  static readonly code = 'HandlerInvalid';
  static readonly status = 400;
}

/** The TypeScript compiler reports errors in the handler. */
export class HandlerTypeCheckFailed extends ArchiveBuildError {
  static readonly code = 'HandlerTypeCheckFailed';
  static readonly status = 400;
}

/** esbuild cannot bundle the handler. */
export class HandlerBuildFailed extends ArchiveBuildError {
  static readonly code = 'HandlerBuildFailed';
  static readonly status = 400;
}

/** The handler module does not export the named entry. */
export class HandlerExportMissing extends ArchiveBuildError {
  static readonly code = 'HandlerExportMissing';
  static readonly status = 400;
}

/** The named export is neither a function nor an object with a callable `handle`. */
export class HandlerExportNotCallable extends ArchiveBuildError {
  static readonly code = 'HandlerExportNotCallable';
  static readonly status = 400;
}

/** Every error class the archiver raises, for the catalogue test and the docs. */
export const ARCHIVER_ERRORS = [
  ArchiveUnsafePath, ArchiveLink, ArchiveTooManyEntries, ArchiveTooLarge, ArchiveCompressionRatio, ManifestMissing,
  ManifestInvalid, ArchiveFileMissing, ArchiveFileUnlisted, ArchiveDuplicateEntry, ArchiveDigestMismatch,
  ArchiveUnreadable, ArchiveDestination,
  InvalidOption, InputMissing, InputInvalid, InputConflict, OutputExists, ConfigInvalid, HandlerNotFound, HandlerInvalid,
  HandlerTypeCheckFailed, HandlerBuildFailed, HandlerExportMissing, HandlerExportNotCallable,
] as const;
