// Byte-level mutations: bit flips, inserts, deletes, duplicates, truncation, splices between files.
import type { Rng } from "./prng.js";

export interface Mutated {
  bytes: Uint8Array;
  /** What was done, for the failure report ("flip 3 bits", "truncate at 812", …). */
  what: string;
}

const INTERESTING_BYTES = [0x00, 0x01, 0x7f, 0x80, 0xff, 0x0a, 0x1b];

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((a, p) => a + p.length, 0));
  parts.reduce((at, p) => (out.set(p, at), at + p.length), 0);
  return out;
}

/** One random byte-level mutation of `input`; `others` are files to splice with. */
export function mutateBytes(rng: Rng, input: Uint8Array, others: Uint8Array[] = []): Mutated {
  const n = input.length;
  const at = (): number => rng.below(n + 1);
  const kind = rng.weighted<string>([
    [4, "flip"], [2, "set"], [2, "insert"], [2, "delete"], [2, "duplicate"], [2, "truncate"], [1, "append"], [others.length ? 2 : 0, "splice"],
  ]);
  switch (kind) {
    case "flip": {
      const out = input.slice();
      const count = rng.int(1, 8);
      for (let i = 0; i < count && n > 0; i++) out[rng.below(n)] ^= 1 << rng.below(8);
      return { bytes: out, what: `flip ${count} bits` };
    }
    case "set": {
      const out = input.slice();
      const count = rng.int(1, 4);
      for (let i = 0; i < count && n > 0; i++) out[rng.below(n)] = rng.pick(INTERESTING_BYTES);
      return { bytes: out, what: `set ${count} bytes` };
    }
    case "insert": {
      const p = at(), len = rng.int(1, 64);
      return { bytes: concat(input.subarray(0, p), rng.bytes(len), input.subarray(p)), what: `insert ${len} bytes at ${p}` };
    }
    case "delete": {
      const p = at(), len = rng.int(1, Math.max(1, Math.min(256, n - p)));
      return { bytes: concat(input.subarray(0, p), input.subarray(p + len)), what: `delete ${len} bytes at ${p}` };
    }
    case "duplicate": {
      const p = at(), len = rng.int(1, Math.max(1, Math.min(512, n - p))), to = at();
      return { bytes: concat(input.subarray(0, to), input.subarray(p, p + len), input.subarray(to)), what: `duplicate ${len} bytes from ${p} to ${to}` };
    }
    case "truncate": {
      const p = rng.chance(0.3) ? rng.below(Math.min(n + 1, 64)) : at();
      return { bytes: input.slice(0, p), what: `truncate at ${p} of ${n}` };
    }
    case "append": {
      const len = rng.int(1, 4096);
      return { bytes: concat(input, rng.chance(0.5) ? new Uint8Array(len) : rng.bytes(len)), what: `append ${len} bytes` };
    }
    default: {
      const other = rng.pick(others);
      const p = at(), q = rng.below(other.length + 1);
      return { bytes: concat(input.subarray(0, p), other.subarray(q)), what: `splice: first ${p} bytes, then another file from ${q}` };
    }
  }
}

/** Overwrites one aligned float32 with NaN, ±Infinity, a huge value or a denormal (weights, scales). */
export function pokeFloat(rng: Rng, input: Uint8Array): Mutated {
  const out = input.slice();
  if (out.length < 4) return { bytes: out, what: "float poke (file too short)" };
  const offset = 4 * rng.below(out.length >> 2);
  const value = rng.pick([NaN, Infinity, -Infinity, 3.4e38, -3.4e38, 1e-45, 0]);
  new DataView(out.buffer).setFloat32(offset, value, true);
  return { bytes: out, what: `float32 ${value} at ${offset}` };
}
