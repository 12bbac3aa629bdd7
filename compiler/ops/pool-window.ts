// Shape rule and window walk shared by max_pool and avg_pool.
import { attrInts, type Node, type Window2D } from "../ir.js";
import { shapeError } from "./op.js";
import { outputSize } from "./geometry.js";

export function poolWindow(node: Node): Window2D {
  return {
    kernel: attrInts(node, "pool") as [number, number],
    strides: attrInts(node, "strides") as [number, number],
    pads: attrInts(node, "pads", [0, 0, 0, 0]) as [number, number, number, number],
  };
}

export function poolShape(node: Node, x: number[]): number[] {
  if (x.length !== 4) throw shapeError(node, `input must be NHWC (rank 4), got [${x}]`);
  const [oh, ow] = outputSize(x[1], x[2], poolWindow(node));
  if (oh < 1 || ow < 1) throw shapeError(node, `pool window does not fit input ${x[1]}×${x[2]}`);
  return [1, oh, ow, x[3]];
}

/** Calls `reduce` with the in-bounds input indices of every output element's window. */
export function forEachWindow(node: Node, xs: number[], out: number[], reduce: (outIndex: number, inIndices: number[]) => void): void {
  const [, h, w, c] = xs;
  const [, oh, ow] = out;
  const { kernel: [kh, kw], strides: [sh, sw], pads: [pt, pl] } = poolWindow(node);
  const idx: number[] = [];
  for (let oy = 0; oy < oh; oy++) {
    for (let ox = 0; ox < ow; ox++) {
      for (let ch = 0; ch < c; ch++) {
        idx.length = 0;
        for (let ky = 0; ky < kh; ky++) {
          const iy = oy * sh + ky - pt;
          if (iy < 0 || iy >= h) continue;
          for (let kx = 0; kx < kw; kx++) {
            const ix = ox * sw + kx - pl;
            if (ix >= 0 && ix < w) idx.push((iy * w + ix) * c + ch);
          }
        }
        reduce((oy * ow + ox) * c + ch, idx);
      }
    }
  }
}

export function emitPoolArgs(node: Node, xs: number[], out: number[], addr: (t: string) => number): string {
  const { kernel: [kh, kw], strides: [sh, sw], pads: [pt, pl] } = poolWindow(node);
  return `${addr(node.inputs[0])}, ${addr(node.outputs[0])}, ${xs[1]}, ${xs[2]}, ${xs[3]}, ${out[1]}, ${out[2]}, ${kh}, ${kw}, ${sh}, ${sw}, ${pt}, ${pl}`;
}
