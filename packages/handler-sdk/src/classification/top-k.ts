export interface ClassScore {
  index: number;
  probability: number;
}

/** The `k` highest scores, highest first (ties keep the lower index first). */
export function topK(probabilities: Float32Array, k: number): ClassScore[] {
  const best: ClassScore[] = [];
  for (let index = 0; index < probabilities.length; index++) {
    const probability = probabilities[index]!;
    if (best.length === k && probability <= best[k - 1]!.probability) continue;
    let at = best.length;
    while (at > 0 && best[at - 1]!.probability < probability) at--;
    best.splice(at, 0, { index, probability });
    if (best.length > k) best.pop();
  }
  return best;
}

/** The MMS/TorchServe output: single-key objects, label → probability, highest first. */
export function labelled(scores: ClassScore[], labels: readonly string[] | undefined): Array<Record<string, number>> {
  return scores.map(({ index, probability }) => ({ [labels?.[index] ?? String(index)]: probability }));
}
