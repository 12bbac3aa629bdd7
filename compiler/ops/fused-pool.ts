// A pool fused into a conv (ir.ts fusedPoolOf reads its attributes): its output size and its walk over the conv's outputs.
import type { FusedPool } from "../ir.js";
import { outputSize } from "./geometry.js";

export function pooledSize(pool: FusedPool | undefined, h: number, w: number): [number, number] {
  return pool ? outputSize(h, w, pool.window) : [h, w];
}

/**
 * For each pooled output (py, px), calls `visit` with the in-bounds conv positions of its window.
 * Without a pool, every conv position is its own window.
 */
export function forEachPoolWindow(pool: FusedPool | undefined, oh: number, ow: number,
  visit: (py: number, px: number, positions: [number, number][]) => void): void {
  if (!pool) {
    for (let y = 0; y < oh; y++) for (let x = 0; x < ow; x++) visit(y, x, [[y, x]]);
    return;
  }
  const [ph, pw] = outputSize(oh, ow, pool.window);
  const { kernel: [kh, kw], strides: [sh, sw], pads: [pt, pl] } = pool.window;
  for (let py = 0; py < ph; py++) {
    for (let px = 0; px < pw; px++) {
      const positions: [number, number][] = [];
      for (let ky = 0; ky < kh; ky++) {
        const y = py * sh + ky - pt;
        if (y < 0 || y >= oh) continue;
        for (let kx = 0; kx < kw; kx++) {
          const x = px * sw + kx - pl;
          if (x >= 0 && x < ow) positions.push([y, x]);
        }
      }
      visit(py, px, positions);
    }
  }
}
