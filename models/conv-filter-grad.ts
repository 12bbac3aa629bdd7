// Fast Conv2DBackpropFilter and MaxPoolGrad for TF.js's cpu backend, whose own kernels make training ~10x slower.
import * as tf from "@tensorflow/tfjs";

interface CpuBackend {
  data: { get(id: object): { values: Float32Array } };
  makeTensorInfo(shape: number[], dtype: "float32", values: Float32Array): tf.TensorInfo;
}

interface FilterGradAttrs {
  strides: [number, number] | number;
  pad: "same" | "valid" | number;
  dataFormat: "NHWC" | "NCHW";
  dimRoundingMode?: "floor" | "round" | "ceil";
  filterShape: [number, number, number, number];
}

/** dW[kh,kw,ci,co] = Σ x[n, oh·s+kh−pad, ow·s+kw−pad, ci] · dy[n,oh,ow,co], NHWC only. */
function conv2dBackpropFilter(args: { inputs: tf.NamedTensorInfoMap; backend: unknown; attrs?: unknown }): tf.TensorInfo {
  const backend = args.backend as CpuBackend;
  const attrs = args.attrs as unknown as FilterGradAttrs;
  const x = args.inputs.x as tf.TensorInfo, dy = args.inputs.dy as tf.TensorInfo;
  if (attrs.dataFormat !== "NHWC") throw new Error("conv-filter-grad: only NHWC is implemented");
  const info = tf.backend_util.computeConv2DInfo(
    x.shape as [number, number, number, number], attrs.filterShape, attrs.strides, 1, attrs.pad,
    attrs.dimRoundingMode, false, "channelsLast");
  const xv = backend.data.get(x.dataId).values;
  const dyv = backend.data.get(dy.dataId).values;
  const [kh, kw, cin, cout] = attrs.filterShape;
  const [n, h, w] = x.shape;
  const dw = new Float32Array(kh * kw * cin * cout);
  const { outHeight, outWidth, strideHeight, strideWidth } = info;
  const top = info.padInfo.top, left = info.padInfo.left;
  for (let b = 0; b < n; b++) {
    for (let oy = 0; oy < outHeight; oy++) {
      for (let ox = 0; ox < outWidth; ox++) {
        const dyBase = ((b * outHeight + oy) * outWidth + ox) * cout;
        for (let ky = 0; ky < kh; ky++) {
          const iy = oy * strideHeight + ky - top;
          if (iy < 0 || iy >= h) continue;
          for (let kx = 0; kx < kw; kx++) {
            const ix = ox * strideWidth + kx - left;
            if (ix < 0 || ix >= w) continue;
            const xBase = ((b * h + iy) * w + ix) * cin;
            const wBase = (ky * kw + kx) * cin * cout;
            for (let ci = 0; ci < cin; ci++) {
              const xval = xv[xBase + ci];
              if (xval === 0) continue;
              const row = wBase + ci * cout;
              for (let co = 0; co < cout; co++) dw[row + co] += xval * dyv[dyBase + co];
            }
          }
        }
      }
    }
  }
  return backend.makeTensorInfo(attrs.filterShape, "float32", dw);
}

interface MaxPoolGradAttrs {
  filterSize: [number, number] | number;
  strides: [number, number] | number;
  pad: "same" | "valid" | number;
  dimRoundingMode?: "floor" | "round" | "ceil";
}

/** Routes each output gradient to the first maximum of its window, as TF does. */
function maxPoolGrad(args: { inputs: tf.NamedTensorInfoMap; backend: unknown; attrs?: unknown }): tf.TensorInfo {
  const backend = args.backend as CpuBackend;
  const attrs = args.attrs as unknown as MaxPoolGradAttrs;
  const dy = args.inputs.dy as tf.TensorInfo, x = args.inputs.input as tf.TensorInfo;
  const info = tf.backend_util.computePool2DInfo(
    x.shape as [number, number, number, number], attrs.filterSize, attrs.strides, 1, attrs.pad, attrs.dimRoundingMode);
  const xv = backend.data.get(x.dataId).values;
  const dyv = backend.data.get(dy.dataId).values;
  const [n, h, w, c] = x.shape;
  const dx = new Float32Array(xv.length);
  const { outHeight, outWidth, strideHeight, strideWidth, filterHeight, filterWidth } = info;
  const top = info.padInfo.top, left = info.padInfo.left;
  for (let b = 0; b < n; b++) {
    for (let oy = 0; oy < outHeight; oy++) {
      for (let ox = 0; ox < outWidth; ox++) {
        for (let ch = 0; ch < c; ch++) {
          let best = -Infinity, at = -1;
          for (let ky = 0; ky < filterHeight; ky++) {
            const iy = oy * strideHeight + ky - top;
            if (iy < 0 || iy >= h) continue;
            for (let kx = 0; kx < filterWidth; kx++) {
              const ix = ox * strideWidth + kx - left;
              if (ix < 0 || ix >= w) continue;
              const idx = ((b * h + iy) * w + ix) * c + ch;
              if (xv[idx] > best) { best = xv[idx]; at = idx; }
            }
          }
          if (at >= 0) dx[at] += dyv[((b * outHeight + oy) * outWidth + ox) * c + ch];
        }
      }
    }
  }
  return backend.makeTensorInfo(x.shape, "float32", dx);
}

/** Replaces the cpu backend's slow training kernels with the direct loops above. */
export function installFastConvFilterGrad(): void {
  tf.unregisterKernel("Conv2DBackpropFilter", "cpu");
  tf.registerKernel({ kernelName: "Conv2DBackpropFilter", backendName: "cpu", kernelFunc: conv2dBackpropFilter as tf.KernelFunc });
  tf.unregisterKernel("MaxPoolGrad", "cpu");
  tf.registerKernel({ kernelName: "MaxPoolGrad", backendName: "cpu", kernelFunc: maxPoolGrad as tf.KernelFunc });
}
