/** True when `row` already is a probability distribution (a model ending in Softmax). */
function isDistribution(row: Float32Array): boolean {
  let sum = 0;
  for (const v of row) {
    if (v < 0 || v > 1) return false;
    sum += v;
  }
  return Math.abs(sum - 1) < 1e-3;
}

/** Softmax of logits (numerically stable); rows that already are probabilities are returned as they are. */
export function softmax(row: Float32Array): Float32Array {
  if (isDistribution(row)) return row;
  let max = -Infinity;
  for (const v of row) if (v > max) max = v;
  const out = new Float32Array(row.length);
  let sum = 0;
  for (let i = 0; i < row.length; i++) sum += out[i] = Math.exp(row[i]! - max);
  for (let i = 0; i < out.length; i++) out[i]! /= sum;
  return out;
}
