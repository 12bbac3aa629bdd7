// Checks a kiln.manifest value field by field before anything uses it: types, bounded sizes, consistent dtypes.
import { BlobError } from "./errors.js";
import { MANIFEST_VERSION, type LayerInfo, type Manifest, type QuantLayerReport, type QuantReport, type TensorInfo } from "./manifest.js";

/** Bounds on what a manifest may declare; far above any model Kiln compiles, far below what would exhaust a host. */
export const MANIFEST_LIMITS = {
  /** Elements of one tensor (input, output or a layer's output): 16 Mi. */
  tensorElements: 1 << 24,
  rank: 8,
  layers: 10_000,
  labels: 65_536,
  /** Characters of a name, label or other string. */
  string: 1024,
  fused: 16,
  /** Warnings of the quantization report (one per layer at most, plus a few about the calibration set). */
  warnings: 10_016,
} as const;

type Json = Record<string, unknown>;

/**
 * A value from the file as a message shows it: a string quoted and cut, a number as is, anything else by its kind.
 * Never String(v): a deeply nested list would recurse without bound.
 */
function shown(v: unknown, max = 40): string {
  if (typeof v === "string") return JSON.stringify(v.slice(0, max));
  if (typeof v === "number") return String(v);
  return Array.isArray(v) ? "a list" : v === null ? "null" : typeof v;
}

const isObject = (v: unknown): v is Json => typeof v === "object" && v !== null && !Array.isArray(v);

class Checker {
  constructor(private readonly where: string) {}

  fail(field: string, what: string): never {
    throw new BlobError(`${this.where}: ${field} ${what}`);
  }

  object(v: unknown, field: string): Json {
    return isObject(v) ? v : this.fail(field, "must be an object");
  }

  string(v: unknown, field: string): string {
    if (typeof v !== "string") this.fail(field, "must be a string");
    if (v.length > MANIFEST_LIMITS.string) this.fail(field, `is ${v.length} characters long; at most ${MANIFEST_LIMITS.string} are allowed`);
    return v;
  }

  oneOf<T extends string>(v: unknown, field: string, choices: readonly T[]): T {
    return choices.includes(v as T) ? (v as T) : this.fail(field, `must be one of ${choices.map((c) => `"${c}"`).join(", ")}`);
  }

  count(v: unknown, field: string): number {
    return typeof v === "number" && Number.isSafeInteger(v) && v >= 0 ? v : this.fail(field, "must be a whole number ≥ 0");
  }

  int(v: unknown, field: string, min: number, max: number): number {
    return typeof v === "number" && Number.isInteger(v) && v >= min && v <= max ? v : this.fail(field, `must be a whole number in ${min}…${max}`);
  }

  finite(v: unknown, field: string): number {
    return typeof v === "number" && Number.isFinite(v) ? v : this.fail(field, "must be a finite number");
  }

  shape(v: unknown, field: string): number[] {
    if (!Array.isArray(v) || v.length < 1 || v.length > MANIFEST_LIMITS.rank) this.fail(field, `must be a list of 1…${MANIFEST_LIMITS.rank} dimensions`);
    let elements = 1;
    for (const [i, d] of v.entries()) {
      if (typeof d !== "number" || !Number.isSafeInteger(d) || d < 1) this.fail(field, `dimension ${i} is ${shown(d)}; dimensions must be positive whole numbers`);
      elements *= d;
    }
    if (elements > MANIFEST_LIMITS.tensorElements) this.fail(field, `[${v.join(", ")}] has ${elements} elements; at most ${MANIFEST_LIMITS.tensorElements} are supported`);
    return v as number[];
  }

  list(v: unknown, field: string, max: number): unknown[] {
    if (!Array.isArray(v)) this.fail(field, "must be a list");
    if (v.length > max) this.fail(field, `has ${v.length} entries; at most ${max} are supported`);
    return v;
  }
}

function checkTensor(c: Checker, v: unknown, field: string, quantize: Manifest["quantize"]): TensorInfo {
  const t = c.object(v, field);
  // An int8 blob whose last layer is kept in float (--keep-float) has a float32 output; its input is always int8.
  const dtype = c.oneOf(t.dtype, `${field}.dtype`, quantize === "int8" ? (field === "output" ? ["int8", "float32"] : ["int8"]) : ["float32"]);
  const info: TensorInfo = { name: c.string(t.name, `${field}.name`), shape: c.shape(t.shape, `${field}.shape`), dtype };
  if (dtype === "int8") {
    info.scale = c.finite(t.scale, `${field}.scale`);
    if (!(info.scale > 0)) c.fail(`${field}.scale`, "must be positive");
    info.zeroPoint = c.int(t.zeroPoint, `${field}.zeroPoint`, -128, 127);
  }
  return info;
}

function checkLayer(c: Checker, v: unknown, i: number): LayerInfo {
  const field = `layers[${i}]`;
  const l = c.object(v, field);
  const layer: LayerInfo = {
    name: c.string(l.name, `${field}.name`), op: c.string(l.op, `${field}.op`),
    fused: c.list(l.fused, `${field}.fused`, MANIFEST_LIMITS.fused).map((f, j) => c.string(f, `${field}.fused[${j}]`)),
    outputShape: c.shape(l.outputShape, `${field}.outputShape`),
    macs: c.count(l.macs, `${field}.macs`), weightBytes: c.count(l.weightBytes, `${field}.weightBytes`),
  };
  if (l.params !== undefined) layer.params = c.count(l.params, `${field}.params`);
  if (l.kernels !== undefined) {
    layer.kernels = c.list(l.kernels, `${field}.kernels`, MANIFEST_LIMITS.fused).map((k, j) => {
      const name = c.string(k, `${field}.kernels[${j}]`);
      if (!/^[a-z][a-z0-9_]{0,63}$/.test(name)) c.fail(`${field}.kernels[${j}]`, "must be a kernel function name");
      return name;
    });
  }
  if (l.precision !== undefined) layer.precision = c.oneOf(l.precision, `${field}.precision`, ["int8", "float"] as const);
  if (l.outputScale !== undefined) layer.outputScale = c.finite(l.outputScale, `${field}.outputScale`);
  if (l.outputZeroPoint !== undefined) layer.outputZeroPoint = c.finite(l.outputZeroPoint, `${field}.outputZeroPoint`);
  return layer;
}

/** An SQNR in dB: null (exact) or a finite number. */
function checkDb(c: Checker, v: unknown, field: string): number | null {
  return v === null ? null : c.finite(v, field);
}

function checkReportLayer(c: Checker, v: unknown, field: string): QuantLayerReport {
  const l = c.object(v, field);
  const maxAbsError = c.finite(l.maxAbsError, `${field}.maxAbsError`);
  if (maxAbsError < 0) c.fail(`${field}.maxAbsError`, "must not be negative");
  const scale = l.scale === null ? null : c.finite(l.scale, `${field}.scale`);
  if (scale !== null && !(scale > 0)) c.fail(`${field}.scale`, "must be positive or null");
  if (l.passThrough !== undefined && l.passThrough !== true) c.fail(`${field}.passThrough`, "must be true when present");
  return {
    name: c.string(l.name, `${field}.name`), op: c.string(l.op, `${field}.op`), sqnrDb: checkDb(c, l.sqnrDb, `${field}.sqnrDb`),
    ownSqnrDb: checkDb(c, l.ownSqnrDb, `${field}.ownSqnrDb`), channelSqnrDb: checkDb(c, l.channelSqnrDb, `${field}.channelSqnrDb`), maxAbsError, scale,
    ...(l.passThrough === true ? { passThrough: true as const } : {}),
  };
}

function checkWarnings(c: Checker, v: unknown, field: string): string[] {
  return c.list(v, field, MANIFEST_LIMITS.warnings).map((w, i) => c.string(w, `${field}[${i}]`));
}

/** The quantization error report: bounded lists, numbers in their ranges, `worst` naming only the report's layers. */
function checkReport(c: Checker, v: unknown): QuantReport {
  const r = c.object(v, "quantization.report");
  const agreement = c.finite(r.agreement, "quantization.report.agreement");
  if (agreement < 0 || agreement > 1) c.fail("quantization.report.agreement", "must be within 0…1");
  const layers = c.list(r.layers, "quantization.report.layers", MANIFEST_LIMITS.layers).map((l, i) => checkReportLayer(c, l, `quantization.report.layers[${i}]`));
  const names = new Set(layers.map((l) => l.name));
  const worst = c.list(r.worst, "quantization.report.worst", MANIFEST_LIMITS.layers).map((w, i) => {
    const name = c.string(w, `quantization.report.worst[${i}]`);
    if (!names.has(name)) c.fail(`quantization.report.worst[${i}]`, "must name a layer of the report");
    return name;
  });
  return { images: c.count(r.images, "quantization.report.images"), agreement, layers, worst, warnings: checkWarnings(c, r.warnings, "quantization.report.warnings") };
}

/**
 * The manifest, checked against the schema of this runtime's MANIFEST_VERSION; a BlobError naming the first bad
 * field otherwise. `where` starts the message (e.g. "kiln.manifest", or a device's name for a manifest it sent).
 */
export function validateManifest(value: unknown, where = "kiln.manifest"): Manifest {
  const c = new Checker(where);
  const m = c.object(value, "the manifest");
  if (m.format !== "kiln.manifest" || m.version !== MANIFEST_VERSION) {
    throw new BlobError(`unsupported manifest (format ${shown(m.format)}, version ${shown(m.version, 20)}; this runtime reads version ${MANIFEST_VERSION})`);
  }
  const contentHash = c.string(m.contentHash, "contentHash");
  if (!/^sha256:[0-9a-f]{64}$/.test(contentHash)) c.fail("contentHash", "must be sha256:<64 hex digits>");
  const quantize = c.oneOf(m.quantize, "quantize", ["none", "int8"] as const);
  const target = c.oneOf(m.target, "target", ["simd", "scalar"] as const);
  if (m.simd !== (target === "simd")) c.fail("simd", `must be ${target === "simd"} for target ${target}`);
  const inputObject = c.object(m.input, "input");
  const input = {
    ...checkTensor(c, inputObject, "input", quantize),
    pixelScale: c.finite(inputObject.pixelScale, "input.pixelScale"), pixelOffset: c.finite(inputObject.pixelOffset, "input.pixelOffset"),
  };
  const output = checkTensor(c, m.output, "output", quantize);
  const manifest: Manifest = {
    contentHash, format: "kiln.manifest", version: MANIFEST_VERSION, model: c.string(m.model, "model"), quantize, target, simd: target === "simd",
    input, output,
    labels: c.list(m.labels, "labels", MANIFEST_LIMITS.labels).map((l, i) => c.string(l, `labels[${i}]`)),
    layers: c.list(m.layers, "layers", MANIFEST_LIMITS.layers).map((l, i) => checkLayer(c, l, i)),
    arenaBytes: c.count(m.arenaBytes, "arenaBytes"), arenaLowerBound: c.count(m.arenaLowerBound, "arenaLowerBound"),
    weightBytes: c.count(m.weightBytes, "weightBytes"), macs: c.count(m.macs, "macs"),
    compiler: c.string(m.compiler, "compiler"),
  };
  if (m.quantization !== undefined) {
    const q = c.object(m.quantization, "quantization");
    if (typeof q.inputExact !== "boolean") c.fail("quantization.inputExact", "must be true or false");
    manifest.quantization = { images: c.string(q.images, "quantization.images"), method: c.string(q.method, "quantization.method"), inputExact: q.inputExact as boolean };
    if (q.calibrated !== undefined) manifest.quantization.calibrated = c.count(q.calibrated, "quantization.calibrated");
    if (q.heldOut !== undefined) manifest.quantization.heldOut = c.count(q.heldOut, "quantization.heldOut");
    if (q.warnings !== undefined) manifest.quantization.warnings = checkWarnings(c, q.warnings, "quantization.warnings");
    if (q.report !== undefined) manifest.quantization.report = checkReport(c, q.report);
  }
  return manifest;
}
