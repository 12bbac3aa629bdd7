// Fuzz targets for model files: TF.js LayersModel and GraphModel folders (JSON + shards), and compiled blobs.
import { cpSync, readFileSync, writeFileSync } from "node:fs";
import { basename, join } from "node:path";
import { compileGraph, DEFAULT_COMPILE_OPTIONS, loadModel } from "../../compiler/compile.js";
import { calibrationImages } from "../../bin/calibration.js";
import { Model } from "../../runtime/model.js";
import { WorkerModel } from "../../runtime/worker-model.js";
import { customContents, customName, customSection, resealBlob, wasmFile, wasmSections } from "./formats.js";
import { mutateBytes, pokeFloat } from "./mutate-bytes.js";
import { mutateJson } from "./mutate-json.js";
import { promise } from "./oracle.js";
import type { Rng } from "./prng.js";
import { corpusFiles, corpusFolders, type CaseContext, type FuzzTarget, type PreparedCase } from "./target.js";

const HOSTILE_PATHS = ["../../../../etc/passwd", "/etc/passwd", "/dev/zero", "..", "", "group1-shard1of1.bin/../../model.json", "a\nb.bin", "%2e%2e/x.bin"];

interface ModelJson {
  modelTopology?: { config?: { layers?: Record<string, unknown>[] } };
  weightsManifest?: { paths?: unknown[] }[];
}

/** A model thousands of layers deep: Activation layers appended to a Sequential model, or chained by inbound_nodes. */
function deepen(json: ModelJson, rng: Rng): string {
  const layers = json.modelTopology?.config?.layers;
  if (!Array.isArray(layers) || layers.length === 0) return "deepen skipped";
  const count = rng.pick([500, 3000, 20000]);
  const last = layers[layers.length - 1] as { name?: string; config?: { name?: string }; inbound_nodes?: unknown };
  let previous = String(last.name ?? last.config?.name ?? "");
  const functional = "inbound_nodes" in last;
  for (let i = 0; i < count; i++) {
    const name = `deep_${i}`;
    const layer: Record<string, unknown> = { class_name: "Activation", config: { name, activation: "relu", trainable: true } };
    if (functional) Object.assign(layer, { name, inbound_nodes: [[[previous, 0, 0, {}]]] });
    layers.push(layer);
    previous = name;
  }
  return `append ${count} chained ReLU layers`;
}

/** Mutates a copy of one model folder in `scratch`; returns the mutated model.json path and what was done. */
function mutateModelFolder(rng: Rng, context: CaseContext, kind: "layers" | "graph"): { path: string; what: string; deep: boolean } {
  const folders = corpusFolders(context.corpus, kind);
  const source = rng.pick(folders);
  const dir = join(context.scratch, "model");
  cpSync(source, dir, { recursive: true });
  const path = join(dir, "model.json");
  const text = readFileSync(path, "utf8");
  const donors = folders.filter((f) => f !== source).map((f) => readFileSync(join(f, "model.json"), "utf8"));
  const json = JSON.parse(text) as ModelJson;
  const shards = (json.weightsManifest ?? []).flatMap((g) => g.paths ?? []).map(String);
  const mode = rng.weighted<string>([[55, "json"], [10, "json-bytes"], [20, "shard"], [8, "shard-path"], [kind === "layers" ? 7 : 0, "deep"]]);
  let what: string;
  if (mode === "json") {
    const m = mutateJson(rng, text, donors);
    writeFileSync(path, m.text);
    what = `model.json: ${m.what}`;
  } else if (mode === "json-bytes") {
    const m = mutateBytes(rng, new TextEncoder().encode(text), donors.map((d) => new TextEncoder().encode(d)));
    writeFileSync(path, m.bytes);
    what = `model.json bytes: ${m.what}`;
  } else if (mode === "shard" && shards.length) {
    const shard = rng.pick(shards);
    const bytes = new Uint8Array(readFileSync(join(dir, shard)));
    const m = rng.chance(0.5) ? pokeFloat(rng, bytes) : mutateBytes(rng, bytes);
    writeFileSync(join(dir, shard), m.bytes);
    what = `${shard}: ${m.what}`;
  } else if (mode === "shard-path" && json.weightsManifest?.[0]?.paths) {
    const paths = json.weightsManifest[0].paths;
    const at = rng.below(paths.length);
    paths[at] = rng.pick(HOSTILE_PATHS);
    writeFileSync(path, JSON.stringify(json));
    what = `weightsManifest[0].paths[${at}] = ${JSON.stringify(paths[at])}`;
  } else {
    what = deepen(json, rng);
    writeFileSync(path, JSON.stringify(json));
  }
  return { path, what: `${basename(source)} ${what}`, deep: mode === "deep" };
}

/** Loads the model; a loaded one is also compiled (float or int8) and its blob run once, as `kiln compile` would. */
function modelCase(rng: Rng, context: CaseContext, kind: "layers" | "graph"): PreparedCase {
  const { path, what, deep } = mutateModelFolder(rng, context, kind);
  // Thousands of layers load in milliseconds but take half a minute to compile: deep models are only loaded.
  const compile = rng.chance(0.5) && !deep;
  const quantize = rng.chance(0.5) ? "int8" : "none";
  return {
    what: `${what}${compile ? ` → compile ${quantize}` : ""}`,
    async run() {
      const graph = loadModel(path);
      if (!compile) return;
      const compiled = await compileGraph(graph, { ...DEFAULT_COMPILE_OPTIONS, quantize, calibration: calibrationImages(), calibrationCount: 8 });
      const model = await Model.load(compiled.wasm);
      const p = model.predict(new Uint8Array(model.inputSize));
      promise(p.scores.length === model.outputSize, `compiled blob gave ${p.scores.length} scores for an output of ${model.outputSize}`);
    },
  };
}

export const layersTarget: FuzzTarget = {
  name: "layers", about: "TF.js LayersModel folders (model.json + shards) → loadModel, then half are compiled and run",
  timeoutMs: 60_000, prepare: (rng, context) => modelCase(rng, context, "layers"),
};

export const graphTarget: FuzzTarget = {
  name: "graph", about: "TF.js GraphModel folders (model.json + shards) → loadModel, then half are compiled and run",
  timeoutMs: 60_000, prepare: (rng, context) => modelCase(rng, context, "graph"),
};

/** A blob mutation, its content hash often filled in again so the damage reaches the checks behind the hash. */
function mutateBlob(rng: Rng, bytes: Uint8Array, others: Uint8Array[]): { bytes: Uint8Array; what: string } {
  const mode = rng.weighted<string>([[40, "bytes"], [40, "manifest"], [20, "sections"]]);
  const m = mutateBlobOnce(rng, bytes, others, mode);
  const resealed = rng.chance(mode === "bytes" ? 0.3 : 0.8) ? resealBlob(m.bytes) : null;
  return resealed ? { bytes: resealed, what: `${m.what}, content hash resealed` } : m;
}

/** Raw bytes, the manifest's JSON (section rebuilt), or whole sections. */
function mutateBlobOnce(rng: Rng, bytes: Uint8Array, others: Uint8Array[], mode: string): { bytes: Uint8Array; what: string } {
  if (mode === "bytes") return mutateBytes(rng, bytes, others);
  const sections = wasmSections(bytes);
  const at = sections.findIndex((s) => customName(s) === "kiln.manifest");
  if (mode === "manifest" && at >= 0) {
    const donors = others.flatMap((o) => wasmSections(o).filter((s) => customName(s) === "kiln.manifest").map((s) => new TextDecoder().decode(customContents(s))));
    const m = mutateJson(rng, new TextDecoder().decode(customContents(sections[at])), donors);
    sections[at] = customSection("kiln.manifest", new TextEncoder().encode(m.text));
    return { bytes: wasmFile(bytes, sections), what: `manifest: ${m.what}` };
  }
  const i = rng.below(sections.length);
  const op = rng.pick(["drop", "duplicate", "swap", "foreign"]);
  if (op === "drop") sections.splice(i, 1);
  else if (op === "duplicate") sections.splice(i, 0, sections[i]);
  else if (op === "swap" && i + 1 < sections.length) [sections[i], sections[i + 1]] = [sections[i + 1], sections[i]];
  else if (others.length) {
    const foreign = wasmSections(rng.pick(others));
    sections[i] = foreign[Math.min(i, foreign.length - 1)];
  }
  return { bytes: wasmFile(bytes, sections), what: `section ${i} (id ${sections[i]?.id}): ${op}` };
}

/** The blob runs on a worker with a time limit, as the CLI runs it: a blob that never returns is a clean RunTimeout. */
const BLOB_TIME_LIMIT_MS = 3000;

export const blobTarget: FuzzTarget = {
  name: "blob", about: "compiled blobs (module + kiln.manifest) → WorkerModel.load (Model.load's checks, then a time-limited worker), then predict, run and profile what loads",
  timeoutMs: 20_000,
  prepare(rng, context) {
    const seeds = corpusFiles(context.corpus, "blob");
    const seed = rng.pick(seeds);
    const m = mutateBlob(rng, seed.bytes, seeds.filter((s) => s !== seed).map((s) => s.bytes));
    // On disk too, so `--keep` leaves a reproducer.
    writeFileSync(join(context.scratch, "blob.wasm"), m.bytes);
    return {
      what: `${seed.name} ${m.what}`,
      async run() {
        const model = await WorkerModel.load(m.bytes, { timeLimitMs: BLOB_TIME_LIMIT_MS });
        try {
          const [p] = await model.predict(new Uint8Array(model.inputSize), 1);
          promise(p.scores.length === model.outputSize && p.index >= 0 && p.index < Math.max(1, model.outputSize), `prediction index ${p.index} of ${p.scores.length} scores for an output of ${model.outputSize}`);
          const r = await model.run(new Float32Array(model.inputSize).fill(0.5));
          promise(r.index >= 0 && r.index < Math.max(1, model.outputSize), `run() index ${r.index} for an output of ${model.outputSize}`);
          await model.profile({ runs: 2, warmup: 1 });
        } finally {
          await model.close();
        }
      },
    };
  },
};
