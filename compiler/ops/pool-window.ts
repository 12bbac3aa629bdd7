// Shape rule and window walk shared by max_pool and avg_pool.
import { attrInts, type Node, type Window2D } from "../ir.js";
import { shapeError } from "./op.js";
import { forEachWindowPosition, outputSize } from "./geometry.js";

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
  const ow = out[2];
  forEachWindowPosition(poolWindow(node), h, w, (oy, ox, positions) => {
    for (let ch = 0; ch < c; ch++) reduce((oy * ow + ox) * c + ch, positions.map(([y, x]) => (y * w + x) * c + ch));
  });
}

export function emitPoolArgs(node: Node, xs: number[], out: number[], addr: (t: string) => number): string {
  const { kernel: [kh, kw], strides: [sh, sw], pads: [pt, pl] } = poolWindow(node);
  return `${addr(node.inputs[0])}, ${addr(node.outputs[0])}, ${xs[1]}, ${xs[2]}, ${xs[3]}, ${out[1]}, ${out[2]}, ${kh}, ${kw}, ${sh}, ${sw}, ${pt}, ${pl}`;
}
