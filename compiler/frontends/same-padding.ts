// TensorFlow's "same" and "valid" padding as explicit pads: how Keras layers and GraphDef ops say where windows sit.

/** [top, left, bottom, right] for a window of `kernel` moving by `strides` over inH × inW (SAME gives ceil(in/stride) outputs and puts the odd pixel bottom/right). */
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
