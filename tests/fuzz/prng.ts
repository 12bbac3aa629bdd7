// The fuzzers' seeded randomness: every case is a pure function of (target, seed, case index).
import { seededRandom } from "../seeded-random.js";

export interface Rng {
  /** Uniform in [0, 1). */
  next(): number;
  /** Integer in [lo, hi] (inclusive). */
  int(lo: number, hi: number): number;
  /** Integer in [0, n). */
  below(n: number): number;
  chance(p: number): boolean;
  pick<T>(items: readonly T[]): T;
  /** Picks by weight: [[weight, value], …]. */
  weighted<T>(choices: readonly (readonly [number, T])[]): T;
  bytes(n: number): Uint8Array;
}

/** FNV-1a: turns the case's coordinates into a 32-bit PRNG seed. */
function hash32(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

/** mulberry32 (the tests' seededRandom): small, fast and good enough to choose mutations. */
export function rngFrom(seed: number): Rng {
  const next = seededRandom(seed);
  const below = (n: number): number => Math.floor(next() * n);
  return {
    next,
    below,
    int: (lo, hi) => lo + below(hi - lo + 1),
    chance: (p) => next() < p,
    pick: (items) => items[below(items.length)],
    weighted: (choices) => {
      const total = choices.reduce((a, [w]) => a + w, 0);
      let r = next() * total;
      for (const [w, v] of choices) {
        if ((r -= w) < 0) return v;
      }
      return choices[choices.length - 1][1];
    },
    bytes: (n) => Uint8Array.from({ length: n }, () => below(256)),
  };
}

/** The PRNG of one case. */
export function caseRng(target: string, seed: number, index: number): Rng {
  return rngFrom(hash32(`${target}:${seed}:${index}`));
}
