// The kiln.manifest custom section: everything a host needs to use a blob without other files.
import { sizeOf, tensorOf, type Graph } from "../ir.js";
import type { Layout } from "./layout.js";
import { MANIFEST_VERSION, type LayerInfo, type Manifest, type QuantReport, type TensorInfo } from "../../runtime/manifest.js";

export type { Manifest };

export interface ManifestOptions {
  quantize: "none" | "int8";
  target: "simd" | "scalar";
  pixelScale: number;
  pixelOffset: number;
  labels?: string[];
}

function tensorInfo(graph: Graph, name: string): TensorInfo {
  const t = tensorOf(graph, name);
  const info: TensorInfo = { name, shape: t.shape, dtype: t.dtype };
  if (t.quant) { info.scale = t.quant.scale[0]; info.zeroPoint = t.quant.zeroPoint[0]; }
  return info;
}

/** What the int8 ranges came from, and the error report on the held-out images when the compile made one. */
export function quantizationInfo(graph: Graph): NonNullable<Manifest["quantization"]> {
  const meta = graph.meta as { calibration: { images: string; method: string }; inputExact?: boolean; calibrationCounts?: { calibrated: number; heldOut: number };
    quantWarnings?: string[]; quantReport?: QuantReport };
  return {
    ...meta.calibration, inputExact: meta.inputExact === true, ...meta.calibrationCounts,
    ...(meta.quantWarnings?.length ? { warnings: meta.quantWarnings } : {}),
    ...(meta.quantReport ? { report: { ...meta.quantReport, seconds: undefined } } : {}),
  };
}

/**
 * `layerMacs[i]` is node i's multiply-accumulates per inference (from its op definition); `layerKernels[i]` the
 * kernel functions its generated code calls (for conv-like layers, what codegen/conv-variant.ts selected).
 */
export function buildManifest(graph: Graph, layout: Layout, options: ManifestOptions, layerMacs: number[], layerKernels: string[][]): Manifest {
  // Only a mixed blob says which layers are float: every other blob's manifest stays as it was.
  const mixed = graph.nodes.some((node) => node.float);
  const layers: LayerInfo[] = graph.nodes.map((node, i) => {
    const out = tensorOf(graph, node.outputs[0]).shape;
    const weightBytes = node.inputs.reduce((a, n) => a + (tensorOf(graph, n).data?.byteLength ?? 0), 0);
    const params = node.inputs.reduce((a, n) => a + (tensorOf(graph, n).data?.length ?? 0), 0);
    const q = tensorOf(graph, node.outputs[0]).quant;
    return {
      name: node.name, op: node.op, fused: node.fused ?? [node.op], outputShape: out, macs: layerMacs[i], weightBytes, params,
      kernels: layerKernels[i],
      ...(mixed ? { precision: tensorOf(graph, node.outputs[0]).dtype === "float32" ? "float" as const : "int8" as const } : {}),
      ...(q ? { outputScale: q.scale[0], outputZeroPoint: q.zeroPoint[0] } : {}),
    };
  });
  const output = tensorInfo(graph, graph.outputs[0]);
  const classes = sizeOf(output.shape);
  return {
    // Filled in by the build, over the finished file (runtime/content-hash.ts); first, as the check expects.
    contentHash: "",
    format: "kiln.manifest",
    version: MANIFEST_VERSION,
    model: graph.name,
    quantize: options.quantize,
    target: options.target,
    simd: options.target === "simd",
    input: { ...tensorInfo(graph, graph.inputs[0]), pixelScale: options.pixelScale, pixelOffset: options.pixelOffset },
    output,
    labels: options.labels ?? Array.from({ length: classes }, (_v, i) => String(i)),
    layers,
    arenaBytes: layout.plan.arenaBytes,
    arenaLowerBound: layout.plan.lowerBound,
    weightBytes: layout.weights.length,
    macs: layers.reduce((a, l) => a + l.macs, 0),
    ...(graph.meta.calibration ? { quantization: quantizationInfo(graph) } : {}),
    compiler: "kiln 0.1.0",
  };
}
