// Window geometry shared by convolution and pooling: TF-style SAME/VALID padding and output sizes.
import type { Window2D } from "../ir.js";

/** TF's rule: SAME gives ceil(in/stride) outputs with the extra padding at the bottom/right. */
export function padsFor(padding: "same" | "valid", inH: number, inW: number, kernel: number[], strides: number[]): [number, number, number, number] {
  if (padding === "valid") return [0, 0, 0, 0];
  const totalFor = (size: number, k: number, s: number): number => {
    const out = Math.ceil(size / s);
    return Math.max((out - 1) * s + k - size, 0);
  };
  const th = totalFor(inH, kernel[0], strides[0]);
  const tw = totalFor(inW, kernel[1], strides[1]);
  return [Math.floor(th / 2), Math.floor(tw / 2), th - Math.floor(th / 2), tw - Math.floor(tw / 2)];
}

export function outputSize(inH: number, inW: number, win: Window2D): [number, number] {
  const [t, l, b, r] = win.pads;
  return [
    Math.floor((inH + t + b - win.kernel[0]) / win.strides[0]) + 1,
    Math.floor((inW + l + r - win.kernel[1]) / win.strides[1]) + 1,
  ];
}

/**
 * For each output (oy, ox) of `win` over an h×w grid, in row-major order, calls `visit` with the in-bounds grid
 * positions of its window (rows, then columns): the walk of every pool reference, standalone or fused.
 */
export function forEachWindowPosition(win: Window2D, h: number, w: number,
  visit: (oy: number, ox: number, positions: [number, number][]) => void): void {
  const [oh, ow] = outputSize(h, w, win);
  const { kernel: [kh, kw], strides: [sh, sw], pads: [pt, pl] } = win;
  for (let oy = 0; oy < oh; oy++) {
    for (let ox = 0; ox < ow; ox++) {
      const positions: [number, number][] = [];
      for (let ky = 0; ky < kh; ky++) {
        const y = oy * sh + ky - pt;
        if (y < 0 || y >= h) continue;
        for (let kx = 0; kx < kw; kx++) {
          const x = ox * sw + kx - pl;
          if (x >= 0 && x < w) positions.push([y, x]);
        }
      }
      visit(oy, ox, positions);
    }
  }
}
