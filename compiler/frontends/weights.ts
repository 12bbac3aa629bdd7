// Reads the weights of a TF.js model (weightsManifest + shard files) into named float arrays.
import { readFileSync, realpathSync, statSync } from "node:fs";
import { dirname, isAbsolute, relative, resolve, sep } from "node:path";
import { fileText, KilnError, MAX_SHOWN_PATH, quoteName, fileTextList } from "../errors.js";
import { describe, MAX_WEIGHT_ELEMENTS, own, shapeProblem } from "../limits.js";

export interface WeightSpec {
  name: string;
  shape: number[];
  dtype: string;
  quantization?: { dtype: string; scale?: number; min?: number };
}

export interface NamedWeight {
  shape: number[];
  data: Float32Array;
}

const BYTES: Record<string, number> = { float32: 4, int32: 4, uint8: 1, uint16: 2, float16: 2 };
const QUANTIZED = ["uint8", "uint16", "float16"];

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);
const isFiniteNumber = (v: unknown): boolean => typeof v === "number" && Number.isFinite(v);

/** Checks one manifest entry's types and ranges; returns it typed, with its byte size. */
function readSpec(modelPath: string, raw: unknown, index: number): { spec: WeightSpec; bytes: number; count: number } {
  const where = `${modelPath}: weightsManifest entry ${index}`;
  if (!isObject(raw) || typeof raw.name !== "string") throw new KilnError(`${where} has no weight name (expected {name, shape, dtype})`);
  const name = raw.name;
  const problem = shapeProblem(raw.shape, 0);
  if (problem) throw new KilnError(`${modelPath}: weight ${describe(name)}: ${problem}`);
  const q = raw.quantization;
  if (q !== undefined && (!isObject(q) || !QUANTIZED.includes(q.dtype as string) || (q.scale !== undefined && !isFiniteNumber(q.scale)) || (q.min !== undefined && !isFiniteNumber(q.min)))) {
    throw new KilnError(`${modelPath}: weight ${describe(name)} has a malformed quantization (expected {dtype: ${QUANTIZED.join("|")}, scale, min} with finite numbers)`);
  }
  const stored = isObject(q) ? q.dtype : raw.dtype;
  const width = own(BYTES, stored);
  if (width === undefined || typeof raw.dtype !== "string") {
    throw new KilnError(`${modelPath}: weight ${describe(name)} has dtype ${describe(stored)}; supported: float32, int32, or converter-quantized uint8/uint16/float16`);
  }
  if (!isObject(q) && raw.dtype !== "float32" && raw.dtype !== "int32") throw new KilnError(`${modelPath}: weight ${describe(name)} has dtype ${describe(raw.dtype)}; supported: float32, int32`);
  const shape = raw.shape as number[];
  const spec: WeightSpec = { name, shape, dtype: raw.dtype, ...(isObject(q) ? { quantization: q as WeightSpec["quantization"] } : {}) };
  const count = shape.reduce((a, b) => a * b, 1);
  return { spec, bytes: count * width, count };
}

/**
 * A shard's real path: it must name a regular file inside the model's folder, also once symlinks are resolved
 * (a manifest must not make Kiln read /etc/passwd or /dev/zero).
 */
function shardFile(modelPath: string, path: unknown): { file: string; size: number } {
  const dir = dirname(modelPath);
  const listed = `weight shard ${describe(path)} (listed in ${modelPath} weightsManifest)`;
  if (typeof path !== "string" || path === "" || path.includes("\0")) throw new KilnError(`${modelPath}: ${listed} is not a file name`);
  const inside = (base: string, file: string): boolean => {
    const rel = relative(base, file);
    return rel !== "" && !rel.startsWith(`..${sep}`) && rel !== ".." && !isAbsolute(rel);
  };
  const file = resolve(dir, path);
  if (isAbsolute(path) || !inside(resolve(dir), file)) throw new KilnError(`${modelPath}: ${listed} is outside the model's folder; shards must sit beside model.json`);
  let real: string;
  try {
    real = realpathSync(file);
  } catch {
    throw new KilnError(`${modelPath}: ${listed} not found (looked for ${fileText(file, MAX_SHOWN_PATH)})`);
  }
  if (!inside(realpathSync(dir), real)) throw new KilnError(`${modelPath}: ${listed} leads outside the model's folder (to ${fileText(real, MAX_SHOWN_PATH)}); shards must sit beside model.json`);
  const stats = statSync(real);
  if (!stats.isFile()) throw new KilnError(`${modelPath}: ${listed} is not a regular file`);
  return { file: real, size: stats.size };
}

/** The group's shards, concatenated, after checking that together they hold exactly `expected` bytes. */
function readShards(modelPath: string, paths: unknown[], expected: number, firstShort: (bytes: number) => string): Uint8Array {
  const files = paths.map((p) => shardFile(modelPath, p));
  const total = files.reduce((a, f) => a + f.size, 0);
  const names = fileTextList(paths.map(String));
  if (total < expected) {
    throw new KilnError(`${modelPath}: weight shards ${names} hold ${total} bytes, but the manifest needs ${expected} (${firstShort(total)}): a shard is short or missing`);
  }
  if (total > expected) throw new KilnError(`${modelPath}: weight shards ${names} hold ${total} bytes, ${total - expected} more than the ${expected} bytes the manifest describes`);
  const all = new Uint8Array(total);
  let at = 0;
  for (const f of files) {
    const bytes = readFileSync(f.file);
    // The file may have changed since it was measured: never read past what the manifest describes.
    if (bytes.length !== f.size) throw new KilnError(`${fileText(f.file, MAX_SHOWN_PATH)}: weight shard changed while it was read`);
    all.set(bytes, at);
    at += bytes.length;
  }
  return all;
}

function float16ToFloat32(h: number): number {
  const sign = h & 0x8000 ? -1 : 1, exp = (h >> 10) & 0x1f, frac = h & 0x3ff;
  if (exp === 0) return sign * 2 ** -14 * (frac / 1024);
  if (exp === 31) return frac ? NaN : sign * Infinity;
  return sign * 2 ** (exp - 15) * (1 + frac / 1024);
}

/** Decodes one weight, dequantizing TF.js converter quantization (uint8/uint16 affine, float16). */
function decode(bytes: Uint8Array, spec: WeightSpec, count: number): Float32Array {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out = new Float32Array(count);
  const q = spec.quantization;
  if (q?.dtype === "float16") for (let i = 0; i < count; i++) out[i] = float16ToFloat32(view.getUint16(2 * i, true));
  else if (q?.dtype === "uint8") for (let i = 0; i < count; i++) out[i] = bytes[i] * (q.scale ?? 1) + (q.min ?? 0);
  else if (q?.dtype === "uint16") for (let i = 0; i < count; i++) out[i] = view.getUint16(2 * i, true) * (q.scale ?? 1) + (q.min ?? 0);
  else if (spec.dtype === "float32") for (let i = 0; i < count; i++) out[i] = view.getFloat32(4 * i, true);
  else for (let i = 0; i < count; i++) out[i] = view.getInt32(4 * i, true);
  return out;
}

export function loadWeights(modelPath: string, manifest: unknown): Map<string, NamedWeight> {
  const weights = new Map<string, NamedWeight>();
  if (manifest === undefined || manifest === null) return weights;
  if (!Array.isArray(manifest)) throw new KilnError(`${modelPath}: weightsManifest must be a list of {paths, weights}`);
  let elements = 0;
  manifest.forEach((group: unknown, g: number) => {
    if (!isObject(group) || !Array.isArray(group.paths) || !Array.isArray(group.weights)) {
      throw new KilnError(`${modelPath}: weightsManifest group ${g} is not {paths: [shard files], weights: [entries]}`);
    }
    const specs = group.weights.map((raw: unknown, i: number) => readSpec(modelPath, raw, i));
    const expected = specs.reduce((a, s) => a + s.bytes, 0);
    elements += specs.reduce((a, s) => a + s.count, 0);
    if (elements > MAX_WEIGHT_ELEMENTS) throw new KilnError(`${modelPath}: the weights manifest describes more than ${MAX_WEIGHT_ELEMENTS} weight values, Kiln's limit for one model`);
    const firstShort = (have: number): string => {
      let offset = 0;
      for (const { spec, bytes } of specs) { offset += bytes; if (offset > have) return `at ${quoteName(spec.name)}`; }
      return "";
    };
    const bytes = readShards(modelPath, group.paths, expected, firstShort);
    let offset = 0;
    for (const { spec, bytes: size, count } of specs) {
      weights.set(spec.name, { shape: spec.shape, data: decode(bytes.subarray(offset, offset + size), spec, count) });
      offset += size;
    }
  });
  return weights;
}
