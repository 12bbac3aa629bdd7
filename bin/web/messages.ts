// The messages between the page and its blob workers (bin/web/worker.ts): the page never runs blob code itself.
import type { Manifest } from "../../runtime/manifest.js";
import type { ProfileResult } from "../../runtime/profile.js";

export type Request =
  | { type: "load"; bytes: ArrayBuffer }
  /** One input (uint8 pixels): answered with the raw output and the scores. */
  | { type: "predict"; id: number; pixels: Uint8Array }
  /** `count` inputs laid end to end: answered with the raw outputs end to end and the median time per input. */
  | { type: "evaluate"; id: number; pixels: Uint8Array; count: number }
  | { type: "profile"; runs: number; warmup: number; budgetMs: number };

export type Reply =
  | { type: "loaded"; info: Manifest }
  | { type: "predicted"; id: number; raw: Int8Array | Float32Array; scores: Float32Array }
  | { type: "evaluated"; id: number; raw: Int8Array | Float32Array; usPerInput: number }
  /** `repeat`: back-to-back calls per timed sample, so that each sample spans ~2 ms of the browser's coarse clock. */
  | { type: "profiled"; result: ProfileResult; repeat: number; isolated: boolean }
  | { type: "error"; message: string };

/** A module whose one function returns a v128: it validates only where the host has WebAssembly SIMD. */
const SIMD_PROBE = new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0, 1, 5, 1, 96, 0, 1, 123, 3, 2, 1, 0, 10, 10, 1, 8, 0, 65, 0, 253, 15, 253, 98, 11]);

export function hasWasmSimd(): boolean {
  return WebAssembly.validate(SIMD_PROBE);
}
