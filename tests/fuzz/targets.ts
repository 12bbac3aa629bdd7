// Every fuzz target, by name.
import { deviceTarget } from "./target-device.js";
import { idxTarget, jpegTarget, pngTarget, u8Target } from "./targets-inputs.js";
import { blobTarget, graphTarget, layersTarget } from "./targets-models.js";
import { selfTestTarget } from "./self-test.js";
import type { FuzzTarget } from "./target.js";

export const TARGETS: readonly FuzzTarget[] = [layersTarget, graphTarget, blobTarget, idxTarget, pngTarget, jpegTarget, u8Target, deviceTarget];

/** Also finds the self-test target, which no run includes unless asked by name. */
export function targetNamed(name: string): FuzzTarget | undefined {
  return [...TARGETS, selfTestTarget].find((t) => t.name === name);
}
