// Normalises Keras model configs (Sequential or functional, Keras 2 or 3 style) into one layer list.
import { fileText, KilnError, quoteName } from "../errors.js";
import { describe, MAX_CONFIG_NESTING, MAX_LAYERS } from "../limits.js";

export interface KerasLayer {
  className: string;
  name: string;
  config: Record<string, unknown>;
  /** Names of the layers whose outputs feed this one (empty for inputs; previous layer for Sequential). */
  inbound: string[];
}

export interface KerasModel {
  name: string;
  layers: KerasLayer[];
  inputs: string[];
  outputs: string[];
}

type Json = Record<string, unknown>;

function isObject(v: unknown): v is Json {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** Thrown (and given the layer's name) when a config list nests deeper than any Keras writes. */
class TooDeep extends Error {}

/**
 * Depth-first walk of a JSON value that stops at `MAX_CONFIG_NESTING` levels: `visit` returns true when it has
 * consumed a value (so its children are not walked). Iterative, so no file can exhaust the call stack.
 */
function walk(root: unknown, visit: (v: unknown) => boolean): void {
  const stack: { value: unknown; depth: number }[] = [{ value: root, depth: 0 }];
  while (stack.length) {
    const { value, depth } = stack.pop()!;
    if (depth > MAX_CONFIG_NESTING) throw new TooDeep();
    if (visit(value)) continue;
    const children = Array.isArray(value) ? value : isObject(value) ? Object.values(value) : [];
    for (let i = children.length - 1; i >= 0; i--) stack.push({ value: children[i], depth: depth + 1 });
  }
}

/** Keras 2: [[["layer", 0, 0, {}], …]]; Keras 3: [{args: [{config: {keras_history: ["layer", 0, 0]}}]}]. */
function inboundNames(raw: unknown): string[] {
  if (!Array.isArray(raw) || raw.length === 0) return [];
  const names: string[] = [];
  walk(raw[0], (v) => {
    if (Array.isArray(v) && typeof v[0] === "string" && typeof v[1] === "number") { names.push(v[0]); return true; }
    const history = isObject(v) && isObject(v.config) ? v.config.keras_history : undefined;
    if (Array.isArray(history) && typeof history[0] === "string") { names.push(history[0]); return true; }
    return false;
  });
  return names;
}

function layerName(raw: Json, index: number, source: string): string {
  const config = isObject(raw.config) ? raw.config : {};
  const name = raw.name ?? config.name ?? `layer_${index}`;
  if (typeof name !== "string" || name === "") throw new KilnError(`${source}: layer ${index} has name ${describe(name)}; a layer name must be a non-empty string`);
  return name;
}

function endpoints(raw: unknown): string[] {
  const names: string[] = [];
  walk(raw, (v) => {
    if (!Array.isArray(v)) return true;
    if (typeof v[0] === "string") { names.push(v[0]); return true; }
    return false;
  });
  return names;
}

function readLayer(raw: unknown, i: number, source: string, inbound: (raw: Json, name: string) => string[]): KerasLayer {
  if (!isObject(raw)) throw new KilnError(`${source}: layer ${i} is not an object`);
  const name = layerName(raw, i, source);
  if (typeof raw.class_name !== "string") throw new KilnError(`${source}: layer ${quoteName(name)} has class_name ${describe(raw.class_name)}; expected the name of a Keras layer class`);
  if (raw.config !== undefined && !isObject(raw.config)) throw new KilnError(`${source}: layer ${quoteName(name)} (${fileText(raw.class_name)}) has a config that is ${describe(raw.config)}, not an object`);
  return { className: raw.class_name, name, config: isObject(raw.config) ? raw.config : {}, inbound: inbound(raw, name) };
}

function checkLayers(layers: unknown[], source: string): void {
  if (layers.length > MAX_LAYERS) throw new KilnError(`${source}: the model has ${layers.length} layers; Kiln compiles at most ${MAX_LAYERS}`);
}

function checkUnique(layers: KerasLayer[], source: string): void {
  const seen = new Set<string>();
  for (const l of layers) {
    if (seen.has(l.name)) throw new KilnError(`${source}: two layers are named ${quoteName(l.name)}; layer names must be unique`);
    seen.add(l.name);
  }
}

export function readKerasModel(topology: unknown, source: string): KerasModel {
  let top: unknown = topology;
  if (isObject(top) && isObject(top.model_config)) top = top.model_config;
  if (!isObject(top) || typeof top.class_name !== "string") {
    throw new KilnError(`${source}: modelTopology is not a Keras model (expected {class_name, config})`);
  }
  const cls = top.class_name;
  const config = top.config;
  if (cls === "Sequential") {
    const list = Array.isArray(config) ? config : isObject(config) && Array.isArray(config.layers) ? config.layers : undefined;
    if (!list) throw new KilnError(`${source}: Sequential model has no layer list`);
    checkLayers(list, source);
    const layers: KerasLayer[] = [];
    list.forEach((raw: unknown, i: number) => {
      const prev = layers.length ? [layers[layers.length - 1].name] : [];
      layers.push(readLayer(raw, i, source, () => prev));
    });
    checkUnique(layers, source);
    const name = isObject(config) && typeof config.name === "string" ? config.name : "sequential";
    return { name, layers, inputs: layers.length ? [layers[0].name] : [], outputs: layers.length ? [layers[layers.length - 1].name] : [] };
  }
  if (cls === "Model" || cls === "Functional") {
    if (!isObject(config) || !Array.isArray(config.layers)) throw new KilnError(`${source}: functional model has no layer list`);
    checkLayers(config.layers, source);
    const layers = config.layers.map((raw: unknown, i: number): KerasLayer => readLayer(raw, i, source, (r, name) => {
      try {
        return inboundNames(r.inbound_nodes);
      } catch (e) {
        if (e instanceof TooDeep) throw new KilnError(`${source}: layer ${quoteName(name)} has inbound_nodes nested deeper than ${MAX_CONFIG_NESTING} levels`);
        throw e;
      }
    }));
    checkUnique(layers, source);
    let inputs: string[], outputs: string[];
    try {
      inputs = endpoints(config.input_layers);
      outputs = endpoints(config.output_layers);
    } catch (e) {
      if (e instanceof TooDeep) throw new KilnError(`${source}: input_layers or output_layers nested deeper than ${MAX_CONFIG_NESTING} levels`);
      throw e;
    }
    return { name: typeof config.name === "string" ? config.name : "model", layers, inputs, outputs };
  }
  throw new KilnError(`${source}: model class ${describe(cls)} is not supported (Sequential, Model/Functional)`);
}
