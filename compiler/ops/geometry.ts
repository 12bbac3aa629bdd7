// Window geometry shared by convolution and pooling: output sizes and window walks (frontends turn SAME/VALID into pads).
import type { Window2D } from "../ir.js";

/** Output height and width of a window with explicit pads (a frontend's SAME gives ceil(in/stride) of them). */
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
