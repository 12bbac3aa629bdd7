// Typed, bounded reads of ONNX node attributes, and the window geometry (pads, auto_pad, ceil_mode) conv and pools share.
import { describe, MAX_WINDOW } from "../../limits.js";
import { quoteName } from "../../errors.js";
import type { OnnxAttr, OnnxNode } from "./model.js";

function present(node: OnnxNode, key: string): OnnxAttr {
  return node.attrs.get(key);
}

export function attrInt(node: OnnxNode, key: string, fallback: number): number {
  const v = present(node, key);
  if (v === undefined) {
    if (node.attrs.has(key)) throw new Error(`attribute ${quoteName(key)} has a type Kiln does not read (expected an integer)`);
    return fallback;
  }
  if (typeof v !== "number" || !Number.isSafeInteger(v)) throw new Error(`attribute ${quoteName(key)} is ${describe(v)}, not an integer`);
  return v;
}

export function attrFloat(node: OnnxNode, key: string, fallback: number): number {
  const v = present(node, key);
  if (v === undefined) {
    if (node.attrs.has(key)) throw new Error(`attribute ${quoteName(key)} has a type Kiln does not read (expected a float)`);
    return fallback;
  }
  if (typeof v !== "number" || !Number.isFinite(v)) throw new Error(`attribute ${quoteName(key)} is ${describe(v)}, not a finite number`);
  return v;
}

export function attrInts(node: OnnxNode, key: string): number[] | undefined {
  const v = present(node, key);
  if (v === undefined) {
    if (node.attrs.has(key)) throw new Error(`attribute ${quoteName(key)} has a type Kiln does not read (expected a list of integers)`);
    return undefined;
  }
  if (!Array.isArray(v) || v.some((x) => typeof x !== "number" || !Number.isSafeInteger(x))) {
    throw new Error(`attribute ${quoteName(key)} is ${describe(v)}, not a list of integers`);
  }
  return v as number[];
}

export function attrString(node: OnnxNode, key: string, fallback: string): string {
  const v = present(node, key);
  if (v === undefined) {
    if (node.attrs.has(key)) throw new Error(`attribute ${quoteName(key)} has a type Kiln does not read (expected a string)`);
    return fallback;
  }
  if (typeof v !== "string") throw new Error(`attribute ${quoteName(key)} is ${describe(v)}, not a string`);
  return v;
}

/** A list attribute of window sizes/strides/dilations: `count` integers from `min` to MAX_WINDOW. */
export function windowInts(node: OnnxNode, key: string, count: number, min: number, fallback?: number[]): number[] {
  const v = attrInts(node, key) ?? fallback;
  if (!v) throw new Error(`attribute ${quoteName(key)} is required`);
  if (v.length !== count) throw new Error(`attribute ${quoteName(key)} ${describe(v)} must have ${count} entries (2-D windows only)`);
  if (v.some((x) => x < min || x > MAX_WINDOW)) throw new Error(`attribute ${quoteName(key)} ${describe(v)} must hold integers from ${min} to ${MAX_WINDOW}`);
  return v;
}

/** A 2-D window as Kiln's ops take it: pads are top, left, bottom, right (ONNX's [h_begin, w_begin, h_end, w_end]). */
export interface OnnxWindow {
  kernel: [number, number];
  strides: [number, number];
  pads: [number, number, number, number];
}

/**
 * Kernel, strides and explicit padding of a 2-D conv or pool over an h×w input: `auto_pad` SAME_UPPER/SAME_LOWER
 * become pads (the odd one at the end / the beginning), VALID none, NOTSET the `pads` attribute. Dilations must be 1.
 */
export function windowOf(node: OnnxNode, kernel: [number, number], h: number, w: number): OnnxWindow {
  const dilations = windowInts(node, "dilations", 2, 1, [1, 1]);
  if (dilations.some((d) => d !== 1)) throw new Error(`dilations ${describe(dilations)} are not supported (only 1)`);
  const strides = windowInts(node, "strides", 2, 1, [1, 1]) as [number, number];
  const autoPad = attrString(node, "auto_pad", "NOTSET");
  if (autoPad === "NOTSET") {
    const pads = windowInts(node, "pads", 4, 0, [0, 0, 0, 0]) as [number, number, number, number];
    return { kernel, strides, pads };
  }
  if (node.attrs.has("pads")) throw new Error(`attribute 'pads' together with auto_pad ${quoteName(autoPad)}: ONNX allows only one of them`);
  if (autoPad === "VALID") return { kernel, strides, pads: [0, 0, 0, 0] };
  if (autoPad !== "SAME_UPPER" && autoPad !== "SAME_LOWER") throw new Error(`auto_pad ${quoteName(autoPad)} is not one of NOTSET, SAME_UPPER, SAME_LOWER, VALID`);
  const split = (size: number, k: number, s: number): [number, number] => {
    const total = Math.max((Math.ceil(size / s) - 1) * s + k - size, 0);
    const small = Math.floor(total / 2);
    return autoPad === "SAME_UPPER" ? [small, total - small] : [total - small, small];
  };
  const [top, bottom] = split(h, kernel[0], strides[0]);
  const [left, right] = split(w, kernel[1], strides[1]);
  return { kernel, strides, pads: [top, left, bottom, right] };
}

/**
 * ceil_mode: the output grid grows to ceil((in + pads − k) / s) + 1, except that (as PyTorch and ONNX Runtime do)
 * the last window must start inside the input or its leading pad. Returns the extra bottom/right padding that makes
 * Kiln's floor-mode pools produce that grid: those positions are out of bounds, so they never win a max and are
 * never counted in an average.
 */
export function ceilModeExtra(win: OnnxWindow, h: number, w: number): [number, number] {
  const extra = (size: number, k: number, s: number, head: number, tail: number): number => {
    let out = Math.ceil((size + head + tail - k) / s) + 1;
    if ((out - 1) * s >= size + head) out--;
    return Math.max(0, (out - 1) * s + k - (size + head + tail));
  };
  return [extra(h, win.kernel[0], win.strides[0], win.pads[0], win.pads[2]), extra(w, win.kernel[1], win.strides[1], win.pads[1], win.pads[3])];
}
