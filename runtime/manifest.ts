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
  /**
   * Int8 blobs with layers kept in float (--keep-float) only, on every layer: "float" where the layer's output is
   * float32 (kept layers, dequantize steps), "int8" elsewhere. Absent: every layer is as the blob's `quantize`.
   */
  precision?: "int8" | "float";
  /** Int8 blobs: the layer output's quantization. */
  outputScale?: number;
  outputZeroPoint?: number;
}

/**
 * One layer in the quantization error report (compiler/quant/error-report.ts): its int8 output dequantized against the
 * float model's output at the same tensor, over the held-out images. SQNR = 10·log10(Σ f² / Σ (f − dq)²) in dB; null
 * means no error at all (int8 equal to float), and a layer whose float output is all zero while int8's is not gets −99.
 */
export interface QuantLayerReport {
  name: string;
  op: string;
  /** The int8 model run end to end: the error accumulated up to this layer's output. */
  sqnrDb: number | null;
  /** This layer alone, on the float model's input quantized as the int8 model quantizes it: the error it adds. */
  ownSqnrDb: number | null;
  /** As ownSqnrDb, per output channel (last axis), the median channel: low when a per-tensor scale crushes most channels. */
  channelSqnrDb: number | null;
  /** Largest |float − dequantized int8| of the end-to-end run. */
  maxAbsError: number;
  /** The output's quantization step (null for a layer kept in float). */
  scale: number | null;
  /**
   * The layer alone gives exactly its float output quantized (a reshape, a max pool): it adds no error of its own,
   * its figures are its input's rounding, and it ranks last.
   */
  passThrough?: true;
}

export interface QuantReport {
  /** Held-out images measured (not used for calibration). */
  images: number;
  /** Share of held-out images whose top-1 class is the same in int8 and float, 0…1. */
  agreement: number;
  /** Graph order. */
  layers: QuantLayerReport[];
  /** Layer names, worst first (lowest of ownSqnrDb and channelSqnrDb). */
  worst: string[];
  /** What deserves a look: low SQNR layers, low agreement, a small or odd calibration set. */
  warnings: string[];
  /** Seconds the measurement took at compile time; never in a manifest (the same compile must give the same bytes). */
  seconds?: number;
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
  quantization?: {
    images: string; method: string; inputExact: boolean;
    /** Images the ranges came from and images held out for the report (absent in blobs from before the report). */
    calibrated?: number; heldOut?: number;
    /** Reasons to doubt the int8 model: a small or odd calibration set, low-SQNR layers, low agreement with float. */
    warnings?: string[];
    report?: QuantReport;
  };
  compiler: string;
}

/** The layers a mixed-precision blob keeps in float (--keep-float), without the dequantize steps at their edges. */
export function keptFloatLayers(manifest: Manifest): LayerInfo[] {
  return manifest.layers.filter((l) => l.precision === "float" && l.op !== "dequantize");
}
