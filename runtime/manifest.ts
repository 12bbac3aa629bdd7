// The kiln.manifest schema: the contract between the compiler that writes a blob and every host that runs it.
/** 2: the manifest starts with a content hash over the whole file (runtime/content-hash.ts). */
export const MANIFEST_VERSION = 2;

export interface TensorInfo {
  name: string;
  shape: number[];
  dtype: string;
  scale?: number;
  zeroPoint?: number;
}

export interface LayerInfo {
  name: string;
  op: string;
  /** Ops fused into this layer, e.g. ["conv2d", "relu", "max_pool"]. */
  fused: string[];
  outputShape: number[];
  macs: number;
  weightBytes: number;
  /** Trained parameters (weights and biases) of the layer. */
  params?: number;
  /** The kernel library functions the layer calls, in order (e.g. ["conv_wino_i8"]): which variant the compiler chose. */
  kernels?: string[];
  /** Int8 blobs: the layer output's quantization. */
  outputScale?: number;
  outputZeroPoint?: number;
}

export interface Manifest {
  /** "sha256:<hex>" over the blob with this value emptied; always the first field of the JSON. */
  contentHash: string;
  format: "kiln.manifest";
  version: number;
  model: string;
  quantize: "none" | "int8";
  target: "simd" | "scalar";
  simd: boolean;
  input: TensorInfo & { pixelScale: number; pixelOffset: number };
  output: TensorInfo;
  labels: string[];
  layers: LayerInfo[];
  arenaBytes: number;
  arenaLowerBound: number;
  weightBytes: number;
  macs: number;
  /** For int8 blobs: what the activation ranges were calibrated on, and whether uint8 pixels map exactly. */
  quantization?: { images: string; method: string; inputExact: boolean };
  compiler: string;
}

