import { ArchiveUnsafePath } from '../errors.js';

const MAX_PATH_LENGTH = 1024;

/**
 * Checks a path as stored in an archive (zip-slip and friends) and returns it without a trailing
 * slash. Windows separators and drive letters are refused outright rather than normalised, so that
 * no platform can read the same entry as a different file.
 */
export function checkEntryPath(raw: string): string {
  const name = raw.endsWith('/') ? raw.slice(0, -1) : raw;
  if (name.length === 0) throw new ArchiveUnsafePath(raw, 'empty path');
  if (name.length > MAX_PATH_LENGTH) throw new ArchiveUnsafePath(raw.slice(0, 64) + '…', `longer than ${MAX_PATH_LENGTH} characters`);
  if (name.includes('\0')) throw new ArchiveUnsafePath(raw, 'contains a NUL byte');
  if (name.includes('\\')) throw new ArchiveUnsafePath(raw, 'contains a backslash');
  if (name.startsWith('/') || /^[A-Za-z]:/.test(name)) throw new ArchiveUnsafePath(raw, 'absolute path');
  for (const segment of name.split('/')) {
    if (segment === '..') throw new ArchiveUnsafePath(raw, 'contains ".."');
    if (segment === '' || segment === '.') throw new ArchiveUnsafePath(raw, 'contains an empty or "." segment');
  }
  return name;
}
