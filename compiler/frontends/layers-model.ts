// The TF.js LayersModel frontend: lowers Keras layers from model.json into Kiln's core ops.
import { existsSync, readFileSync } from "node:fs";
import type { Graph } from "../ir.js";
import { KilnError } from "../errors.js";
import { GraphBuilder } from "./builder.js";
import { readKerasModel, type KerasLayer } from "./keras-config.js";
import { loadWeights, type NamedWeight, type WeightGroup } from "./weights.js";
import { LAYER_LOWERINGS as BASIC_LOWERINGS, type LoweringContext } from "./keras-layers.js";
import { MORE_LAYER_LOWERINGS } from "./keras-layers-more.js";

const LAYER_LOWERINGS = { ...BASIC_LOWERINGS, ...MORE_LAYER_LOWERINGS };

export const SUPPORTED_LAYERS = Object.keys(LAYER_LOWERINGS).sort();

function batchShape(layer: KerasLayer): number[] | undefined {
  const c = layer.config;
  const raw = c.batch_input_shape ?? c.batch_shape ?? (Array.isArray(c.input_shape) ? [null, ...c.input_shape] : undefined);
  return Array.isArray(raw) ? raw.map((d) => (d === null ? 1 : Number(d))) : undefined;
}

/** Finds a layer's weight by its short name (kernel, bias, …) whatever prefix the saver used. */
function weightLookup(weights: Map<string, NamedWeight>, source: string) {
  return (layer: KerasLayer, short: string): NamedWeight => {
    const candidates = [`${layer.name}/${short}`, `${layer.name}/${short}:0`];
    for (const name of candidates) { const w = weights.get(name); if (w) return w; }
    for (const [name, w] of weights) {
      const bare = name.replace(/:0$/, "");
      if (bare.endsWith(`/${layer.name}/${short}`)) return w;
    }
    throw new KilnError(`${source}: layer '${layer.name}' (${layer.className}) needs weight '${layer.name}/${short}', which the weights manifest does not list`);
  };
}

function readJson(path: string): Record<string, unknown> {
  if (!existsSync(path)) throw new KilnError(`${path}: file not found`);
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(path, "utf8"));
  } catch (e) {
    throw new KilnError(`${path}: not valid JSON (${(e as Error).message})`);
  }
  if (typeof json !== "object" || json === null) throw new KilnError(`${path}: expected a JSON object (a TF.js model.json)`);
  return json as Record<string, unknown>;
}

export function loadLayersModel(path: string, json = readJson(path)): Graph {
  if (!json.modelTopology) throw new KilnError(`${path}: no modelTopology; not a TF.js model.json`);
  const keras = readKerasModel(json.modelTopology, path);
  const weights = loadWeights(path, json.weightsManifest as WeightGroup[] | undefined);
  const b = new GraphBuilder(keras.name, { source: path, format: "layers-model" });
  const outputOf = new Map<string, string>();
  const ctx: LoweringContext = { builder: b, weight: weightLookup(weights, path), source: path };
  const pending = [...keras.layers];
  // Keras lists layers in creation order, which is not always topological for functional models.
  while (pending.length) {
    const index = pending.findIndex((l) => l.inbound.every((n) => outputOf.has(n)));
    if (index < 0) throw new KilnError(`${path}: layer '${pending[0].name}' reads from a layer that does not exist or forms a cycle`);
    const layer = pending.splice(index, 1)[0];
    let inputs = layer.inbound.map((n) => outputOf.get(n) as string);
    if (inputs.length === 0) {
      const shape = batchShape(layer);
      if (!shape) throw new KilnError(`${path}: layer '${layer.name}' (${layer.className}) is an input but declares no input shape`);
      if (shape.length !== 4 && shape.length !== 2) {
        throw new KilnError(`${path}: input '${layer.name}' has shape [${shape}]; Kiln supports image inputs [batch, h, w, c] and vectors [batch, n]`);
      }
      if (b.graph.inputs.length > 0) throw new KilnError(`${path}: models with more than one input are not supported`);
      inputs = [b.input(layer.className === "InputLayer" ? layer.name : b.unique("input"), shape)];
      if (layer.className === "InputLayer") { outputOf.set(layer.name, inputs[0]); continue; }
    }
    const lower = LAYER_LOWERINGS[layer.className];
    if (!lower) {
      throw new KilnError(`${path}: layer '${layer.name}' has class ${layer.className}, which Kiln does not support; supported layers: ${SUPPORTED_LAYERS.join(", ")}`);
    }
    try {
      outputOf.set(layer.name, lower(ctx, layer, inputs));
    } catch (e) {
      if (e instanceof KilnError) throw e;
      throw new KilnError(`${path}: layer '${layer.name}' (${layer.className}): ${(e as Error).message}`);
    }
  }
  if (keras.outputs.length !== 1) throw new KilnError(`${path}: models with ${keras.outputs.length} outputs are not supported (exactly one)`);
  const out = outputOf.get(keras.outputs[0]);
  if (!out) throw new KilnError(`${path}: output layer '${keras.outputs[0]}' not found`);
  b.graph.outputs.push(out);
  return b.graph;
}
