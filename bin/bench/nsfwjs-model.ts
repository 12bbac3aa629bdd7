// The bench's real network: the MobileNetV2 (224×224×3, uint8-quantized weights) that the npm package nsfwjs ships.
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { KilnError } from "../../compiler/errors.js";

export const MOBILENETV2_SIDE = 224;

interface LayersModelJson {
  modelTopology: object;
  weightsManifest: { paths: string[]; weights: object[] }[];
}

/** The installed nsfwjs version (its exports map hides package.json, so found from its entry point, dist/cjs/index.js). */
export function nsfwjsVersion(): string {
  try {
    const entry = createRequire(import.meta.url).resolve("nsfwjs");
    return (JSON.parse(readFileSync(join(dirname(entry), "..", "..", "package.json"), "utf8")) as { version?: string }).version ?? "?";
  } catch {
    return "?";
  }
}

/** What nsfwjs/models/mobilenet_v2 exports (its ModelDefinition, the parts used here). */
interface NsfwjsModelDefinition {
  modelJson: () => Promise<{ default: unknown }>;
  weightBundles: (() => Promise<{ default: unknown }>)[];
}

/**
 * nsfwjs ships its TF.js LayersModel wrapped for bundlers (dist/models/mobilenet_v2/*.min.js, reached through its
 * public export nsfwjs/models/mobilenet_v2): one UMD module whose export is the model.json object, and one per weight
 * shard whose export is the shard as a base64 string. Unwrapping is lossless: the JSON object is written as model.json
 * and each base64 string decoded back into its shard's bytes, the LayersModel files nsfwjs itself hands to TF.js.
 * Returns the path of the written model.json.
 */
export async function unpackNsfwjsMobileNetV2(outDir: string): Promise<string> {
  let definition: NsfwjsModelDefinition;
  try {
    definition = (await import("nsfwjs/models/mobilenet_v2")).MobileNetV2Model as unknown as NsfwjsModelDefinition;
  } catch (e) {
    throw new KilnError(`the mobilenetv2-224 bench model comes from the devDependency nsfwjs, which did not load (${(e as Error).message}): run npm install`);
  }
  const json = (await definition.modelJson()).default as LayersModelJson;
  if (!json?.modelTopology || !Array.isArray(json.weightsManifest)) throw new KilnError("nsfwjs/models/mobilenet_v2 does not hold a LayersModel JSON");
  const paths = json.weightsManifest.flatMap((g) => g.paths);
  if (paths.length !== definition.weightBundles.length) throw new KilnError(`nsfwjs/models/mobilenet_v2: ${paths.length} shard paths but ${definition.weightBundles.length} weight bundles`);
  mkdirSync(outDir, { recursive: true });
  for (let i = 0; i < paths.length; i++) {
    const base64 = (await definition.weightBundles[i]()).default;
    if (typeof base64 !== "string") throw new KilnError(`nsfwjs/models/mobilenet_v2: weight bundle ${i} is not a base64 string`);
    writeFileSync(join(outDir, paths[i]), Buffer.from(base64, "base64"));
  }
  const modelJson = join(outDir, "model.json");
  writeFileSync(modelJson, JSON.stringify(json));
  return modelJson;
}

/** A fixed pseudo-random stream (LCG) in [0, 1). */
function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    return s / 2 ** 32;
  };
}

/**
 * Synthetic photographs-ish: a two-colour linear gradient in a random direction, a few filled ellipses of random
 * colours, and ±8 of pixel noise. Smooth regions and edges give the convolutions activations closer to a real image's
 * than uniform noise does (whose every 3×3 window is an edge), with no network access and no image files.
 */
export function syntheticImages(count: number, side: number, seed: number): Uint8Array {
  const rand = lcg(seed);
  const out = new Uint8Array(count * side * side * 3);
  const pixel = new Float64Array(3);
  for (let n = 0; n < count; n++) {
    const from = [0, 1, 2].map(() => 255 * rand()), to = [0, 1, 2].map(() => 255 * rand());
    const angle = 2 * Math.PI * rand(), dx = Math.cos(angle), dy = Math.sin(angle);
    const ellipses = Array.from({ length: 2 + Math.floor(5 * rand()) }, () => ({
      cx: side * rand(), cy: side * rand(), rx: side * (0.05 + 0.3 * rand()), ry: side * (0.05 + 0.3 * rand()),
      colour: [0, 1, 2].map(() => 255 * rand()),
    }));
    const base = n * side * side * 3;
    for (let y = 0; y < side; y++) for (let x = 0; x < side; x++) {
      // Projection of the pixel on the gradient's direction, mapped to 0..1.
      const t = Math.min(1, Math.max(0, 0.5 + ((x / side - 0.5) * dx + (y / side - 0.5) * dy)));
      for (let c = 0; c < 3; c++) pixel[c] = from[c] + (to[c] - from[c]) * t;
      for (const e of ellipses) {
        const u = (x - e.cx) / e.rx, v = (y - e.cy) / e.ry;
        if (u * u + v * v <= 1) for (let c = 0; c < 3; c++) pixel[c] = e.colour[c];
      }
      const i = base + (y * side + x) * 3;
      for (let c = 0; c < 3; c++) out[i + c] = Math.min(255, Math.max(0, Math.round(pixel[c] + 16 * rand() - 8)));
    }
  }
  return out;
}
