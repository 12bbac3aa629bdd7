// A pool fused into a conv (ir.ts fusedPoolOf reads its attributes): its output size and its walk over the conv's outputs.
import type { FusedPool } from "../ir.js";
import { forEachWindowPosition, outputSize } from "./geometry.js";

export function pooledSize(pool: FusedPool | undefined, h: number, w: number): [number, number] {
  return pool ? outputSize(h, w, pool.window) : [h, w];
}

/**
 * For each pooled output (py, px), calls `visit` with the in-bounds conv positions of its window.
 * Without a pool, every conv position is its own window.
 */
export function forEachPoolWindow(pool: FusedPool | undefined, oh: number, ow: number,
  visit: (py: number, px: number, positions: [number, number][]) => void): void {
  if (pool) forEachWindowPosition(pool.window, oh, ow, visit);
  else for (let y = 0; y < oh; y++) for (let x = 0; x < ow; x++) visit(y, x, [[y, x]]);
}
