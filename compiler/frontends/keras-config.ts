// Normalises Keras model configs (Sequential or functional, Keras 2 or 3 style) into one layer list.
import { KilnError } from "../errors.js";

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

/** Keras 2: [[["layer", 0, 0, {}], …]]; Keras 3: [{args: [{config: {keras_history: ["layer", 0, 0]}}]}]. */
function inboundNames(raw: unknown): string[] {
  if (!Array.isArray(raw) || raw.length === 0) return [];
  const names: string[] = [];
  const visit = (v: unknown): void => {
    if (Array.isArray(v)) {
      if (typeof v[0] === "string" && typeof v[1] === "number") names.push(v[0]);
      else v.forEach(visit);
    } else if (isObject(v)) {
      const history = isObject(v.config) ? v.config.keras_history : undefined;
      if (Array.isArray(history) && typeof history[0] === "string") names.push(history[0]);
      else Object.values(v).forEach(visit);
    }
  };
  visit(raw[0]);
  return names;
}

function layerName(raw: Json, index: number): string {
  const config = isObject(raw.config) ? raw.config : {};
  return String(raw.name ?? config.name ?? `layer_${index}`);
}

function endpoints(raw: unknown): string[] {
  const names: string[] = [];
  const visit = (v: unknown): void => {
    if (Array.isArray(v)) {
      if (typeof v[0] === "string") names.push(v[0]);
      else v.forEach(visit);
    }
  };
  visit(raw);
  return names;
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
    const layers: KerasLayer[] = [];
    list.forEach((raw: unknown, i: number) => {
      if (!isObject(raw)) throw new KilnError(`${source}: layer ${i} is not an object`);
      const prev = layers.length ? [layers[layers.length - 1].name] : [];
      layers.push({ className: String(raw.class_name), name: layerName(raw, i), config: isObject(raw.config) ? raw.config : {}, inbound: prev });
    });
    const name = isObject(config) && typeof config.name === "string" ? config.name : "sequential";
    return { name, layers, inputs: layers.length ? [layers[0].name] : [], outputs: layers.length ? [layers[layers.length - 1].name] : [] };
  }
  if (cls === "Model" || cls === "Functional") {
    if (!isObject(config) || !Array.isArray(config.layers)) throw new KilnError(`${source}: functional model has no layer list`);
    const layers = config.layers.map((raw: unknown, i: number): KerasLayer => {
      if (!isObject(raw)) throw new KilnError(`${source}: layer ${i} is not an object`);
      return { className: String(raw.class_name), name: layerName(raw, i), config: isObject(raw.config) ? raw.config : {}, inbound: inboundNames(raw.inbound_nodes) };
    });
    return { name: String(config.name ?? "model"), layers, inputs: endpoints(config.input_layers), outputs: endpoints(config.output_layers) };
  }
  throw new KilnError(`${source}: model class '${cls}' is not supported (Sequential, Model/Functional)`);
}
