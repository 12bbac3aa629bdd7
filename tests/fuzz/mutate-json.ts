// Structure-aware JSON mutations: wrong types, extreme numbers, prototype keys, hostile strings, deep nesting.
import type { Rng } from "./prng.js";

type Json = unknown;
type Container = Record<string, Json> | Json[];

/** Stand for values JSON.stringify cannot write: replaced in the serialized text. A deeply nested value (building it
 *  would be slow), and ±1e999, which JSON.parse reads as ±Infinity. */
const DEEP = "\u0000kiln-fuzz-deep\u0000";
const INFINITE = "\u0000kiln-fuzz-inf\u0000", NEGATIVE_INFINITE = "\u0000kiln-fuzz-ninf\u0000";
const RAW_TEXT: [string, string][] = [[DEEP, `${"[".repeat(100_000)}${"]".repeat(100_000)}`], [INFINITE, "1e999"], [NEGATIVE_INFINITE, "-1e999"]];

const HOSTILE_STRINGS = [
  "", "x", "__proto__", "constructor", "prototype", "toString", "hasOwnProperty", "../../../../etc/passwd", "/dev/zero",
  "m\nmemory.fill(0, 0, 65536);\n//", "a */ unreachable(); /* b", "\u001b[2J\u001b[31mred", "a\rb\tc\u0000d", "é中\u{1F600}\u202e",
  "1e9", "-1", "NaN", "null", "A".repeat(10_000), "line\n".repeat(2000),
];

function hostileNumber(rng: Rng, current?: number): number {
  const base = typeof current === "number" ? current : 1;
  return rng.pick([
    0, -1, 1, -0, 0.5, 1.5, -2.5, 2 ** 31 - 1, 2 ** 31, 2 ** 32, -(2 ** 31), 2 ** 53 + 2, 1e9, 1e15, 1e308, -1e308, 5e-324, 65536,
    base + 1, base - 1, -base, base * 1024, base + 0.5, base * 1e6,
  ]);
}

/** A replacement value of another kind than most fields expect. */
function hostileValue(rng: Rng, current: Json): Json {
  return rng.weighted<() => Json>([
    [3, () => hostileNumber(rng, typeof current === "number" ? current : undefined)],
    [3, () => rng.pick(HOSTILE_STRINGS)],
    [1, () => null],
    [1, () => rng.chance(0.5)],
    [1, () => []],
    [1, () => ({})],
    [1, () => [hostileNumber(rng), hostileNumber(rng)]],
    [1, () => Array.from({ length: rng.int(1, 6) }, () => hostileNumber(rng))],
    [1, () => withOwnKey({}, rng.pick(["__proto__", "constructor"]), { polluted: true })],
    [1, () => DEEP],
    [1, () => rng.pick([INFINITE, NEGATIVE_INFINITE])],
    [1, () => String(current)],
  ])();
}

/** An own property, even for "__proto__" (plain assignment would set the prototype instead). */
function withOwnKey<T extends object>(obj: T, key: string, value: Json): T {
  Object.defineProperty(obj, key, { value, enumerable: true, writable: true, configurable: true });
  return obj;
}

function isContainer(v: Json): v is Container {
  return typeof v === "object" && v !== null;
}

/** Every container in the tree with the path that reaches it. */
function containers(root: Json): { node: Container; path: string }[] {
  const out: { node: Container; path: string }[] = [];
  const stack: { node: Json; path: string }[] = [{ node: root, path: "$" }];
  while (stack.length) {
    const { node, path } = stack.pop()!;
    if (!isContainer(node)) continue;
    out.push({ node, path });
    for (const [k, v] of Object.entries(node)) if (isContainer(v)) stack.push({ node: v, path: `${path}.${k}` });
  }
  return out;
}

function keysOf(node: Container): string[] {
  return Array.isArray(node) ? node.map((_v, i) => String(i)) : Object.keys(node);
}

/** Applies one mutation in place; returns what it did. */
function mutateOnce(rng: Rng, root: Json, donors: Json[]): string {
  const all = containers(root);
  if (all.length === 0) return "nothing to mutate";
  const { node, path } = rng.pick(all);
  const keys = keysOf(node);
  const key = keys.length ? rng.pick(keys) : "0";
  const get = (k: string): Json => (node as Record<string, Json>)[k];
  const set = (k: string, v: Json): void => { withOwnKey(node, k, v); };
  const kind = rng.weighted<string>([
    [6, "replace"], [2, "delete"], [2, "duplicate"], [2, "add-key"], [1, "rename-key"], [2, "graft"], [1, "grow-array"],
  ]);
  switch (kind) {
    case "replace": {
      const v = hostileValue(rng, get(key));
      set(key, v);
      return `${path}.${key} = ${describe(v)}`;
    }
    case "delete":
      if (Array.isArray(node)) node.splice(Number(key), 1);
      else delete (node as Record<string, Json>)[key];
      return `delete ${path}.${key}`;
    case "duplicate":
      if (Array.isArray(node) && node.length) {
        node.splice(Number(key), 0, structuredClone(node[Number(key)]));
        return `duplicate ${path}[${key}]`;
      }
      set(`${key}_copy`, structuredClone(get(key)));
      return `copy ${path}.${key}`;
    case "add-key": {
      const name = rng.pick(["__proto__", "constructor", "toString", "extra", "valueOf"]);
      const v = hostileValue(rng, undefined);
      if (Array.isArray(node)) node.push(v);
      else set(name, v);
      return `add ${path}.${Array.isArray(node) ? "[+]" : name} = ${describe(v)}`;
    }
    case "rename-key": {
      if (Array.isArray(node) || !keys.length) return "rename skipped";
      const value = get(key);
      delete (node as Record<string, Json>)[key];
      const name = rng.pick(["__proto__", "constructor", `${key}\n`, key.toUpperCase(), ""]);
      set(name, value);
      return `rename ${path}.${key} → ${JSON.stringify(name)}`;
    }
    case "graft": {
      const donor = donors.length ? rng.pick(donors) : root;
      const pieces = containers(donor);
      const piece = structuredClone(rng.pick(pieces).node);
      set(key, piece);
      return `${path}.${key} = a subtree of another file`;
    }
    default: {
      if (!Array.isArray(node) || !node.length) return "grow skipped";
      const count = rng.pick([100, 1000, 5000]);
      const item = node[rng.below(node.length)];
      for (let i = 0; i < count; i++) node.push(structuredClone(item));
      return `repeat an element of ${path} ${count} times`;
    }
  }
}

function describe(v: Json): string {
  if (v === DEEP) return "100000-deep nested arrays";
  if (v === INFINITE || v === NEGATIVE_INFINITE) return v === INFINITE ? "1e999" : "-1e999";
  const text = JSON.stringify(v) ?? String(v);
  return text.length > 60 ? `${text.slice(0, 57)}… (${text.length} chars)` : text;
}

/** 1–4 structure-aware mutations of JSON text (as bytes); `donors` are other files to graft subtrees from. */
export function mutateJson(rng: Rng, text: string, donors: string[] = []): { text: string; what: string } {
  const root = JSON.parse(text) as Json;
  const donorTrees = donors.map((d) => JSON.parse(d) as Json);
  const steps: string[] = [];
  const count = rng.int(1, 4);
  for (let i = 0; i < count; i++) steps.push(mutateOnce(rng, root, donorTrees));
  let out = JSON.stringify(root);
  for (const [marker, raw] of RAW_TEXT) out = out.split(JSON.stringify(marker)).join(raw);
  return { text: out, what: steps.join("; ") };
}
