// The TF.js LayersModel frontend: lowers Keras layers from model.json into Kiln's core ops.
import type { Graph } from "../ir.js";
import { fileText, KilnError, quoteName } from "../errors.js";
import { describe, own, shapeProblem } from "../limits.js";
import { GraphBuilder } from "./builder.js";
import { readKerasModel, type KerasLayer } from "./keras-config.js";
import { loadWeights, type NamedWeight } from "./weights.js";
import { LAYER_LOWERINGS as BASIC_LOWERINGS, type LoweringContext } from "./keras-layers.js";
import { MORE_LAYER_LOWERINGS } from "./keras-layers-more.js";

const LAYER_LOWERINGS = { ...BASIC_LOWERINGS, ...MORE_LAYER_LOWERINGS };

export const SUPPORTED_LAYERS = Object.keys(LAYER_LOWERINGS).sort();

/** The input shape a layer declares, batch first (null or 1), checked: positive integer sizes within the limits. */
function batchShape(layer: KerasLayer, source: string): number[] | undefined {
  const c = layer.config;
  const raw = c.batch_input_shape ?? c.batch_shape ?? (Array.isArray(c.input_shape) ? [null, ...c.input_shape] : c.input_shape);
  if (raw === undefined || raw === null) return undefined;
  const where = `${source}: input ${quoteName(layer.name)} (${fileText(layer.className)})`;
  if (!Array.isArray(raw) || raw.length === 0) throw new KilnError(`${where} declares input shape ${describe(raw)}, not a list of sizes`);
  if (raw[0] !== null && raw[0] !== 1 && raw[0] !== -1) throw new KilnError(`${where} declares a batch of ${describe(raw[0])}; Kiln compiles batch 1 (or an open batch, null)`);
  const shape = [1, ...raw.slice(1)];
  const problem = shapeProblem(shape);
  if (problem) throw new KilnError(`${where}: input ${problem}`);
  return shape as number[];
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
    throw new KilnError(`${source}: layer ${quoteName(layer.name)} (${fileText(layer.className)}) needs weight ${quoteName(`${layer.name}/${short}`)}, which the weights manifest does not list`);
  };
}

/**
 * Keras lists layers in creation order, which is not always topological for functional models: Kahn's algorithm,
 * keeping the file's order among ready layers (linear in layers and edges, so no file makes it quadratic).
 */
function topologicalOrder(layers: KerasLayer[], path: string): KerasLayer[] {
  const byName = new Map(layers.map((l) => [l.name, l]));
  const waiting = new Map<KerasLayer, number>();
  const readers = new Map<string, KerasLayer[]>();
  for (const layer of layers) {
    for (const n of layer.inbound) {
      if (!byName.has(n)) throw new KilnError(`${path}: layer ${quoteName(layer.name)} reads from layer ${describe(n)}, which does not exist`);
      const list = readers.get(n);
      if (list) list.push(layer); else readers.set(n, [layer]);
    }
    waiting.set(layer, layer.inbound.length);
  }
  const order: KerasLayer[] = [];
  const ready = layers.filter((l) => l.inbound.length === 0);
  const done = new Set<string>();
  for (let i = 0; i < ready.length; i++) {
    const layer = ready[i];
    order.push(layer);
    done.add(layer.name);
    // A reader listing the same layer twice (Add(x, x)) is listed twice here, and waits for both.
    for (const reader of readers.get(layer.name) ?? []) {
      const left = waiting.get(reader)! - 1;
      waiting.set(reader, left);
      if (left === 0) ready.push(reader);
    }
  }
  if (order.length < layers.length) {
    const stuck = layers.find((l) => !done.has(l.name))!;
    throw new KilnError(`${path}: layer ${quoteName(stuck.name)} is part of a cycle of layers`);
  }
  return order;
}

/** Lowers a parsed model.json (read by compile.ts loadModel, which bounds and parses the file). */
export function loadLayersModel(path: string, json: Record<string, unknown>): Graph {
  if (!json.modelTopology) throw new KilnError(`${path}: no modelTopology; not a TF.js model.json`);
  const keras = readKerasModel(json.modelTopology, path);
  const weights = loadWeights(path, json.weightsManifest);
  const b = new GraphBuilder(keras.name, { source: path, format: "layers-model" });
  const outputOf = new Map<string, string>();
  const ctx: LoweringContext = { builder: b, weight: weightLookup(weights, path), source: path };
  for (const layer of topologicalOrder(keras.layers, path)) {
    let inputs = layer.inbound.map((n) => outputOf.get(n) as string);
    if (inputs.length === 0) {
      const shape = batchShape(layer, path);
      if (!shape) throw new KilnError(`${path}: layer ${quoteName(layer.name)} (${fileText(layer.className)}) is an input but declares no input shape`);
      if (shape.length !== 4 && shape.length !== 2) {
        throw new KilnError(`${path}: input ${quoteName(layer.name)} has shape [${shape}]; Kiln supports image inputs [batch, h, w, c] and vectors [batch, n]`);
      }
      if (b.graph.inputs.length > 0) throw new KilnError(`${path}: models with more than one input are not supported`);
      inputs = [b.input(layer.className === "InputLayer" ? layer.name : b.unique("input"), shape)];
      if (layer.className === "InputLayer") { outputOf.set(layer.name, inputs[0]); continue; }
    }
    const lower = own(LAYER_LOWERINGS, layer.className);
    if (!lower) {
      throw new KilnError(`${path}: layer ${quoteName(layer.name)} has class ${fileText(layer.className)}, which Kiln does not support; supported layers: ${SUPPORTED_LAYERS.join(", ")}`);
    }
    try {
      outputOf.set(layer.name, lower(ctx, layer, inputs));
    } catch (e) {
      // Every message names the file; lowerings' own KilnErrors already name the layer.
      if (e instanceof KilnError) throw e.message.startsWith(path) ? e : new KilnError(`${path}: ${e.message}`, e.exitCode);
      throw new KilnError(`${path}: layer ${quoteName(layer.name)} (${fileText(layer.className)}): ${(e as Error).message}`);
    }
  }
  if (keras.outputs.length !== 1) throw new KilnError(`${path}: models with ${keras.outputs.length} outputs are not supported (exactly one)`);
  const out = outputOf.get(keras.outputs[0]);
  if (!out) throw new KilnError(`${path}: output layer ${quoteName(keras.outputs[0])} not found`);
  b.graph.outputs.push(out);
  return b.graph;
}
