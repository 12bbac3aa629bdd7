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
