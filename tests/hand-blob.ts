// Hand-assembled Kiln-shaped WebAssembly modules for hostile-blob tests: any run() body, start function, memory
// limits, exports and manifest, sealed with a correct content hash unless asked otherwise.
import { sealManifest } from "../runtime/content-hash.js";
import { MANIFEST_VERSION } from "../runtime/manifest.js";

const u32 = (n: number): number[] => {
  const out: number[] = [];
  do {
    let b = n & 0x7f;
    n = Math.floor(n / 128);
    if (n !== 0) b |= 0x80;
    out.push(b);
  } while (n !== 0);
  return out;
};

/** Signed LEB128 (i32.const immediates). */
const s32 = (n: number): number[] => {
  const out: number[] = [];
  for (;;) {
    const b = n & 0x7f;
    n >>= 7;
    if ((n === 0 && (b & 0x40) === 0) || (n === -1 && (b & 0x40) !== 0)) return [...out, b];
    out.push(b | 0x80);
  }
};

const vec = (items: number[][]): number[] => [...u32(items.length), ...items.flat()];
const name = (s: string): number[] => { const b = [...new TextEncoder().encode(s)]; return [...u32(b.length), ...b]; };
const section = (id: number, content: number[]): number[] => [id, ...u32(content.length), ...content];

/** Instruction snippets for bodies. */
export const op = {
  i32: (n: number): number[] => [0x41, ...s32(n)],
  /** loop { br 0 }: never returns. */
  forever: [0x03, 0x40, 0x0c, 0x00, 0x0b],
  /** memory.grow(pages), result dropped. */
  grow: (pages: number): number[] => [0x41, ...s32(pages), 0x40, 0x00, 0x1a],
  /** Runs forever if the i32 at `address` is not 0; sets it to 1 otherwise. */
  secondCallLoops: (address: number): number[] => [
    0x41, ...s32(address), 0x28, 0x02, 0x00, 0x04, 0x40, 0x03, 0x40, 0x0c, 0x00, 0x0b, 0x0b,
    0x41, ...s32(address), 0x41, 0x01, 0x36, 0x02, 0x00,
  ],
  /** A loop of `n` iterations (uses local 0, so bodies with it declare one i32 local). */
  countdown: (n: number): number[] => [
    0x41, ...s32(n), 0x21, 0x00, 0x03, 0x40, 0x20, 0x00, 0x41, 0x01, 0x6b, 0x22, 0x00, 0x0d, 0x00, 0x0b,
  ],
};

export interface HandBlobOptions {
  /** Pages; max null means none declared. Default 1 page, max 1. */
  memory?: { min: number; max: number | null };
  /** Body of run() (instructions, without the final end); default empty. */
  run?: number[];
  /** run()'s body uses one i32 local (op.countdown). */
  runLocal?: boolean;
  /** Body of a start function, when there is one. */
  start?: number[];
  inputPtr?: number;
  outputPtr?: number;
  layerCount?: number;
  /** Exports left out, or re-pointed to another kind (memory exported under a function's name). */
  omitExports?: string[];
  /** Edits the default manifest (a float model: input [1,4], output [1,2], one layer). */
  manifest?: (m: Record<string, any>) => void;
  /** Bytes placed after the manifest section. */
  trailing?: number[];
  /** The manifest section's contents as given, not sealed. */
  rawManifest?: string;
}

export function defaultManifest(): Record<string, any> {
  return {
    contentHash: "", format: "kiln.manifest", version: MANIFEST_VERSION, model: "hand", quantize: "none", target: "scalar", simd: false,
    input: { name: "x", shape: [1, 4], dtype: "float32", pixelScale: 1, pixelOffset: 0 },
    output: { name: "y", shape: [1, 2], dtype: "float32" },
    labels: ["a", "b"],
    layers: [{ name: "l", op: "dense", fused: ["dense"], outputShape: [1, 2], macs: 8, weightBytes: 0, params: 0 }],
    arenaBytes: 64, arenaLowerBound: 64, weightBytes: 0, macs: 8, compiler: "hand",
  };
}

/** The module without its manifest (what the content hash covers first). */
export function handModule(o: HandBlobOptions = {}): Uint8Array {
  const memory = o.memory ?? { min: 1, max: 1 };
  const types = section(1, vec([[0x60, 0, 0], [0x60, 0, 1, 0x7f], [0x60, 1, 0x7f, 0]]));
  const funcTypes = [1, 1, 0, 1, 2, ...(o.start ? [0] : [])];
  const functions = section(3, vec(funcTypes.map((t) => [t])));
  const mem = section(5, vec([memory.max === null ? [0, ...u32(memory.min)] : [1, ...u32(memory.min), ...u32(memory.max)]]));
  const exportList: [string, number, number][] = [
    ["memory", 2, 0], ["input_ptr", 0, 0], ["output_ptr", 0, 1], ["run", 0, 2], ["layer_count", 0, 3], ["run_layer", 0, 4],
  ];
  const exports = section(7, vec(exportList.filter(([n]) => !o.omitExports?.includes(n)).map(([n, kind, i]) => [...name(n), kind, ...u32(i)])));
  const start = o.start ? section(8, u32(5)) : [];
  const body = (instructions: number[], locals = false): number[] => {
    const b = [...(locals ? vec([[1, 0x7f]]) : [0]), ...instructions, 0x0b];
    return [...u32(b.length), ...b];
  };
  const bodies = [
    body(op.i32(o.inputPtr ?? 0)), body(op.i32(o.outputPtr ?? 16)), body(o.run ?? [], o.runLocal),
    body(op.i32(o.layerCount ?? 1)), body([]), ...(o.start ? [body(o.start)] : []),
  ];
  const code = section(10, [...u32(bodies.length), ...bodies.flat()]);
  return new Uint8Array([0, 0x61, 0x73, 0x6d, 1, 0, 0, 0, ...types, ...functions, ...mem, ...exports, ...start, ...code]);
}

/** A complete blob: the module and its sealed kiln.manifest section (the last section, as the compiler writes it). */
export async function handBlob(o: HandBlobOptions = {}): Promise<Uint8Array<ArrayBuffer>> {
  const module = handModule(o);
  const manifest = defaultManifest();
  o.manifest?.(manifest);
  const json = o.rawManifest !== undefined ? new TextEncoder().encode(o.rawManifest) : await sealManifest(module, manifest);
  const custom = section(0, [...name("kiln.manifest"), ...json]);
  return new Uint8Array([...module, ...custom, ...(o.trailing ?? [])]);
}
