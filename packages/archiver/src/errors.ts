/**
 * Every refusal of the archive reader, each with a stable `code`. Archives come from clients
 * (registration, uploads), so a refusal is the client's problem: HTTP 400. Messages name the entry.
 */
export class ArchiveError extends Error {
  readonly status: number = 400;
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = new.target.name;
  }
}

export class ArchiveUnsafePathError extends ArchiveError {
  constructor(entry: string, why: string) {
    super('ArchiveUnsafePath', `unsafe entry path ${JSON.stringify(entry)}: ${why}`);
  }
}

export class ArchiveLinkError extends ArchiveError {
  constructor(entry: string, kind: string) {
    super('ArchiveLink', `entry ${JSON.stringify(entry)} is a ${kind}; archives may hold only regular files and directories`);
  }
}

export class ArchiveTooManyEntriesError extends ArchiveError {
  constructor(limit: number) {
    super('ArchiveTooManyEntries', `archive holds more than ${limit} entries`);
  }
}

export class ArchiveTooLargeError extends ArchiveError {
  constructor(what: string) {
    super('ArchiveTooLarge', what);
  }
}

export class ArchiveCompressionRatioError extends ArchiveError {
  constructor(what: string, limit: number) {
    super('ArchiveCompressionRatio', `${what} expands more than ${limit} times its compressed size`);
  }
}

export class ManifestMissingError extends ArchiveError {
  constructor(manifestPath: string) {
    super('ManifestMissing', `archive has no ${manifestPath}`);
  }
}

export class ManifestInvalidError extends ArchiveError {
  constructor(why: string) {
    super('ManifestInvalid', `invalid manifest: ${why}`);
  }
}

export class ArchiveFileMissingError extends ArchiveError {
  constructor(file: string, namedBy: string) {
    super('ArchiveFileMissing', `${namedBy} names ${JSON.stringify(file)}, which is not in the archive`);
  }
}

export class ArchiveFileUnlistedError extends ArchiveError {
  constructor(file: string) {
    super('ArchiveFileUnlisted', `entry ${JSON.stringify(file)} is not listed in the manifest's files`);
  }
}

export class ArchiveDuplicateEntryError extends ArchiveError {
  constructor(file: string) {
    super('ArchiveDuplicateEntry', `entry ${JSON.stringify(file)} appears more than once`);
  }
}

export class ArchiveDigestMismatchError extends ArchiveError {
  constructor(file: string, what: string) {
    super('ArchiveDigestMismatch', `${JSON.stringify(file)}: ${what} does not match the manifest`);
  }
}

export class ArchiveUnreadableError extends ArchiveError {
  constructor(why: string) {
    super('ArchiveUnreadable', why);
  }
}

export class ArchiveDestinationError extends ArchiveError {
  constructor(dir: string, why: string) {
    super('ArchiveDestination', `cannot extract into ${dir}: ${why}`);
  }
}

/** Raised while building an archive: bad options, missing inputs, a handler that does not compile. */
export class ArchiveBuildError extends Error {
  readonly status: number = 400;
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = new.target.name;
  }
}
