/** "Did you mean …?" for a word typed where one of a few known words belongs (providers, regions, grant types). */
import { distance } from "fastest-levenshtein";

/**
 * The choice meant by `input`: a case-insensitive match, else the one choice that starts with it or contains it
 * (`aruba` → `aruba-central`, `identity` → `hpe-identity`), else the nearest within two edits (`grenlake`).
 */
export function didYouMean(input: string, choices: readonly string[]): string | undefined {
  const v = input.trim().toLowerCase();
  if (!v) return undefined;
  const exact = choices.find((c) => c.toLowerCase() === v);
  if (exact) return exact;
  const partial = choices.filter(
    (c) => c.toLowerCase().startsWith(v) || (v.length >= 3 && c.toLowerCase().includes(v)),
  );
  if (partial.length === 1) return partial[0];
  let best: string | undefined;
  let bestDistance = 3;
  for (const c of choices) {
    const d = distance(v, c.toLowerCase());
    if (d < bestDistance) {
      best = c;
      bestDistance = d;
    }
  }
  return best;
}

/** ` (did you mean aruba-central?)`, or "" when nothing is close. */
export function suggestion(input: string, choices: readonly string[]): string {
  const s = didYouMean(input, choices);
  return s && s !== input ? `; did you mean ${s}?` : "";
}
