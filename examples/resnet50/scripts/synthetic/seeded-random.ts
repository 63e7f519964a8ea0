/**
 * mulberry32: a 32-bit state PRNG that fills the ~25.6 M weights in well under a second and gives
 * the same stream on every platform for a given seed, so a seed names one exact model file.
 */
export class SeededRandom {
  private state: number;

  constructor(seed: number) {
    if (!Number.isSafeInteger(seed) || seed < 0 || seed > 0xffff_ffff) {
      throw new RangeError(`seed must be an integer in [0, ${0xffff_ffff}], got ${seed}`);
    }
    this.state = seed >>> 0;
  }

  /** Uniform in [0, 1). */
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  }

  /** `count` values uniform in [center - halfWidth, center + halfWidth). */
  uniform(count: number, center: number, halfWidth: number): Float32Array {
    const values = new Float32Array(count);
    for (let i = 0; i < count; i++) values[i] = center + (this.next() * 2 - 1) * halfWidth;
    return values;
  }
}
