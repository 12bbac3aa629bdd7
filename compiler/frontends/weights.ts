// Reads the weights of a TF.js model (weightsManifest + shard files) into named float arrays.
import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { KilnError } from "../errors.js";

export interface WeightSpec {
  name: string;
  shape: number[];
  dtype: string;
  quantization?: { dtype: string; scale?: number; min?: number };
}

export interface WeightGroup {
  paths: string[];
  weights: WeightSpec[];
}

export interface NamedWeight {
  shape: number[];
  data: Float32Array;
}

const BYTES: Record<string, number> = { float32: 4, int32: 4, uint8: 1, uint16: 2, float16: 2, bool: 1 };

function readShards(modelPath: string, group: WeightGroup): Uint8Array {
  const parts = group.paths.map((p) => {
    const file = join(dirname(modelPath), p);
    if (!existsSync(file)) throw new KilnError(`${file}: weight shard not found (listed in ${modelPath} weightsManifest)`);
    return new Uint8Array(readFileSync(file));
  });
  const total = parts.reduce((a, p) => a + p.length, 0);
  const all = new Uint8Array(total);
  let at = 0;
  for (const p of parts) { all.set(p, at); at += p.length; }
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
  else if (spec.dtype === "int32") for (let i = 0; i < count; i++) out[i] = view.getInt32(4 * i, true);
  else throw new KilnError(`weight '${spec.name}': dtype ${spec.dtype} is not supported (float32, int32, or converter-quantized uint8/uint16/float16)`);
  return out;
}

export function loadWeights(modelPath: string, manifest: WeightGroup[] | undefined): Map<string, NamedWeight> {
  const weights = new Map<string, NamedWeight>();
  if (!manifest) return weights;
  if (!Array.isArray(manifest)) throw new KilnError(`${modelPath}: weightsManifest must be a list of {paths, weights}`);
  for (const group of manifest) {
    const bytes = readShards(modelPath, group);
    let offset = 0;
    for (const spec of group.weights) {
      const count = spec.shape.reduce((a, b) => a * b, 1);
      const width = BYTES[spec.quantization?.dtype ?? spec.dtype];
      if (width === undefined) throw new KilnError(`${modelPath}: weight '${spec.name}' has unsupported dtype ${spec.quantization?.dtype ?? spec.dtype}`);
      const size = count * width;
      if (offset + size > bytes.length) {
        throw new KilnError(`${modelPath}: weight shards ${group.paths.join(", ")} hold ${bytes.length} bytes, but the manifest needs at least ${offset + size} (at '${spec.name}'): a shard is short or missing`);
      }
      weights.set(spec.name, { shape: spec.shape, data: decode(bytes.subarray(offset, offset + size), spec, count) });
      offset += size;
    }
  }
  return weights;
}
