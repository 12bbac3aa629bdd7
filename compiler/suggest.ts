// "Did you mean …?" for mistyped commands, options and choices: the closest known names by edit distance or prefix.

/** Optimal string alignment distance: insertions, deletions, substitutions and swaps of neighbours cost 1 each. */
export function editDistance(a: string, b: string): number {
  const rows = a.length + 1, cols = b.length + 1;
  const d: number[][] = Array.from({ length: rows }, (_, i) => Array.from({ length: cols }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i < rows; i++) {
    for (let j = 1; j < cols; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d[i][j] = Math.min(d[i][j], d[i - 2][j - 2] + 1);
    }
  }
  return d[a.length][b.length];
}

/** How many typing slips a word of this length may carry and still be recognised: short words get fewer. */
function allowedSlips(length: number): number {
  return length <= 3 ? 1 : length <= 7 ? 2 : 3;
}

/**
 * The known names `typed` most likely meant, best first (at most three): those within a few slips of it, else those it
 * is the start of (`--calib` → `--calibration`, `--calibration-count`…). Case is ignored. None when nothing is close.
 */
export function closestNames(typed: string, known: readonly string[]): string[] {
  const word = typed.toLowerCase();
  if (!word) return [];
  const scored = known.map((name) => ({ name, distance: editDistance(word, name.toLowerCase()) }))
    .filter((c) => c.distance <= allowedSlips(word.length) && c.distance < Math.max(word.length, c.name.length));
  if (scored.length) {
    const best = Math.min(...scored.map((c) => c.distance));
    return scored.filter((c) => c.distance === best).map((c) => c.name).slice(0, 3);
  }
  return word.length >= 3 ? known.filter((name) => name.toLowerCase().startsWith(word)).slice(0, 3) : [];
}

/** "; did you mean --calibration?" or "; did you mean a or b?", or "" when nothing is close. */
export function didYouMean(typed: string, known: readonly string[], show: (name: string) => string = (n) => n): string {
  const names = closestNames(typed, known).map(show);
  if (!names.length) return "";
  const list = names.length === 1 ? names[0] : `${names.slice(0, -1).join(", ")} or ${names[names.length - 1]}`;
  return `; did you mean ${list}?`;
}
