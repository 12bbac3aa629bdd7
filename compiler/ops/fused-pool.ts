// A pool fused into a conv: its attributes, its shape, and its reduction over the conv's outputs.
import { attrInts, attrString, type Node } from "../ir.js";
import { outputSize, type Window2D } from "./geometry.js";

export interface FusedPool {
  kind: "max" | "avg";
  window: Window2D;
}

export function fusedPoolOf(node: Node): FusedPool | undefined {
  const kind = attrString(node, "pool_kind", "none");
  if (kind === "none") return undefined;
  return {
    kind: kind as "max" | "avg",
    window: {
      kernel: attrInts(node, "pool_size") as [number, number],
      strides: attrInts(node, "pool_strides") as [number, number],
      pads: attrInts(node, "pool_pads") as [number, number, number, number],
    },
  };
}

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
