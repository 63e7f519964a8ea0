/**
 * A total order on model versions, as people read numbered ones: compared part by part (split at `.`
 * and `-`), numbers by value (`2.0` < `10.0`, `1.2` < `1.10`), a number above text in the same place,
 * text by code point, and a version that is a prefix of another below it (`1` < `1.0`). It picks the
 * default among versions of one name loaded at start-up: the highest.
 */
export function compareVersions(a: string, b: string): number {
  const pa = a.split(/[.-]/);
  const pb = b.split(/[.-]/);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const x = pa[i];
    const y = pb[i];
    if (x === undefined) return -1;
    if (y === undefined) return 1;
    const nx = /^\d+$/.test(x) ? Number(x) : undefined;
    const ny = /^\d+$/.test(y) ? Number(y) : undefined;
    if (nx !== undefined && ny !== undefined) {
      if (nx !== ny) return nx < ny ? -1 : 1;
    } else if (nx !== undefined || ny !== undefined) {
      return nx !== undefined ? 1 : -1;
    } else if (x !== y) {
      return x < y ? -1 : 1;
    }
  }
  return 0;
}

/** The highest of `versions` by {@link compareVersions}. */
export function highestVersion(versions: Iterable<string>): string | undefined {
  let best: string | undefined;
  for (const v of versions) if (best === undefined || compareVersions(v, best) > 0) best = v;
  return best;
}
