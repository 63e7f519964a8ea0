/**
 * Shows a prediction as the tutorial does: the JSON the server answered, indented, then the top-5 in
 * one line per class. Accepts the shapes image classifiers answer with: TorchServe's list of
 * `{ label: probability }` (ours), MMS's list of `{ class, probability }`, and one `{ label: probability }` map.
 *
 * @param {string} body the response body
 * @param {boolean} meaningfulLabels false for random weights, whose labels say nothing
 * @param {{ withJson: boolean }} [show]
 */
export function formatTop5(body, meaningfulLabels, show = { withJson: true }) {
  let parsed;
  try {
    parsed = JSON.parse(body);
  } catch {
    return body.trim();
  }
  const top = topClasses(parsed);
  const lines = show.withJson || top.length === 0 ? [JSON.stringify(parsed, null, 2)] : [];
  if (top.length > 0) {
    const note = meaningfulLabels ? '' : '  (random weights: meaningless)';
    lines.push(`top-5:${note}`);
    top.slice(0, 5).forEach(([label, p], i) => lines.push(`  ${i + 1}. ${label.padEnd(28)} ${(p * 100).toFixed(2).padStart(6)} %`));
  }
  return lines.join('\n');
}

/**
 * @param {unknown} parsed
 * @returns {Array<[string, number]>} label and probability, most probable first
 */
export function topClasses(parsed) {
  /** @type {Array<[string, number]>} */
  let pairs = [];
  if (Array.isArray(parsed)) {
    for (const item of parsed) {
      if (item && typeof item === 'object') {
        const label = item.class ?? item.label;
        const p = item.probability ?? item.score;
        if (typeof label === 'string' && typeof p === 'number') pairs.push([label, p]);
        else pairs.push(...Object.entries(item).filter((e) => typeof e[1] === 'number'));
      }
    }
  } else if (parsed && typeof parsed === 'object') {
    pairs = Object.entries(parsed).filter((e) => typeof e[1] === 'number');
  }
  return pairs.sort((a, b) => b[1] - a[1]);
}
