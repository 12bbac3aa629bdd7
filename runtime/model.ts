// Loads a Kiln blob and runs it: the runtime core, free of Node-only imports so it also runs in browsers.
import { MANIFEST_VERSION, type Manifest } from "./manifest.js";
import { profileModel, type ProfileOptions, type ProfileResult } from "./profile.js";

export type { Manifest } from "./manifest.js";

/** The blob's exports, as the ABI in DESIGN.md fixes them. */
export interface BlobExports {
  memory: WebAssembly.Memory;
  input_ptr(): number;
  output_ptr(): number;
  run(): void;
  layer_count(): number;
  run_layer(i: number): void;
}

export interface Prediction {
  /** Index of the highest output (first one on ties). */
  index: number;
  label: string;
  /** The model's outputs in real units (dequantized for int8 blobs). */
  scores: Float32Array;
}

export class BlobError extends Error {
  override name = "BlobError";
}

function readManifest(module: WebAssembly.Module): Manifest {
  const sections = WebAssembly.Module.customSections(module, "kiln.manifest");
  if (sections.length !== 1) throw new BlobError("not a Kiln blob: no kiln.manifest custom section");
  let manifest: Manifest;
  try {
    manifest = JSON.parse(new TextDecoder().decode(sections[0])) as Manifest;
  } catch {
    throw new BlobError("kiln.manifest is not valid JSON");
  }
  if (manifest.format !== "kiln.manifest" || manifest.version !== MANIFEST_VERSION) {
    throw new BlobError(`unsupported manifest (format ${String(manifest.format)}, version ${String(manifest.version)}; this runtime reads version ${MANIFEST_VERSION})`);
  }
  return manifest;
}

/** Blobs up to this size compile synchronously where the host allows it (Node does; see Model.load). */
const SYNC_COMPILE_LIMIT = 4 << 20;

/** The result of a synchronous WebAssembly call, or undefined if the host refuses it here (RangeError). */
function refusedIsUndefined<T>(call: () => T): T | undefined {
  try {
    return call();
  } catch (e) {
    if (e instanceof RangeError) return undefined;
    throw e;
  }
}

const sizeOf = (shape: number[]): number => shape.reduce((a, b) => a * b, 1);

export class Model {
  private constructor(readonly info: Manifest, readonly exports: BlobExports) {}

  /** Compiles and instantiates a blob; it has no imports, so nothing needs to be provided. */
  static async load(bytes: Uint8Array | ArrayBuffer): Promise<Model> {
    // Synchronous compile and instantiate take a third off a small blob's start-up (no separate validate pass,
    // no task hops, no copy). Browsers refuse them on the main thread for all but tiny modules (a RangeError):
    // then, and for blobs big enough that blocking would be felt, the async path.
    const view = bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes);
    const sync = view.byteLength <= SYNC_COMPILE_LIMIT && view.buffer instanceof ArrayBuffer;
    let module: WebAssembly.Module;
    try {
      module = (sync ? refusedIsUndefined(() => new WebAssembly.Module(view as Uint8Array<ArrayBuffer>)) : undefined) ??
        // It reads the bytes after returning: a copy keeps the caller's later writes out.
        await WebAssembly.compile(view.slice());
    } catch (e) {
      if (e instanceof WebAssembly.CompileError) throw new BlobError("not a valid WebAssembly module (is the file truncated or corrupt?)");
      throw e;
    }
    const info = readManifest(module);
    const instance = (sync ? refusedIsUndefined(() => new WebAssembly.Instance(module, {})) : undefined) ??
      await WebAssembly.instantiate(module, {});
    return new Model(info, instance.exports as unknown as BlobExports);
  }

  get inputSize(): number { return sizeOf(this.info.input.shape); }
  get outputSize(): number { return sizeOf(this.info.output.shape); }

  /** Writes one input: uint8 pixels (mapped with the manifest's pixel scale/offset) or floats in model units. */
  setInput(input: Uint8Array | Float32Array): void {
    const { input: spec } = this.info;
    if (input.length !== this.inputSize) {
      throw new BlobError(`input has ${input.length} values; model '${this.info.model}' expects [${spec.shape.join(", ")}] = ${this.inputSize}`);
    }
    const ptr = this.exports.input_ptr();
    const buffer = this.exports.memory.buffer;
    const pixels = input instanceof Uint8Array;
    if (spec.dtype === "float32") {
      const view = new Float32Array(buffer, ptr, input.length);
      for (let i = 0; i < input.length; i++) view[i] = pixels ? input[i] * spec.pixelScale + spec.pixelOffset : input[i];
      return;
    }
    const view = new Int8Array(buffer, ptr, input.length);
    const scale = spec.scale ?? 1, zp = spec.zeroPoint ?? 0;
    // A pixel has 256 values: quantizing each once beats once per pixel while this code still runs cold.
    const n = pixels ? 256 : input.length;
    const quantized = pixels ? new Int8Array(256) : view;
    for (let i = 0; i < n; i++) {
      const q = Math.round((pixels ? i * spec.pixelScale + spec.pixelOffset : input[i]) / scale) + zp;
      quantized[i] = q < -128 ? -128 : q > 127 ? 127 : q;
    }
    if (pixels) for (let i = 0; i < input.length; i++) view[i] = quantized[input[i]];
  }

  /** The raw output buffer: Float32Array for float blobs, Int8Array for int8 blobs (a copy). */
  rawOutput(): Float32Array | Int8Array {
    const ptr = this.exports.output_ptr();
    const buffer = this.exports.memory.buffer;
    return this.info.output.dtype === "float32"
      ? new Float32Array(buffer, ptr, this.outputSize).slice()
      : new Int8Array(buffer, ptr, this.outputSize).slice();
  }

  scores(): Float32Array {
    const raw = this.rawOutput();
    if (raw instanceof Float32Array) return raw;
    const scale = this.info.output.scale ?? 1, zp = this.info.output.zeroPoint ?? 0;
    return Float32Array.from(raw, (q) => (q - zp) * scale);
  }

  /** Per-layer and end-to-end timings of this blob on this machine (see runtime/profile.ts). */
  profile(options: ProfileOptions = {}): ProfileResult {
    return profileModel(this, options);
  }

  predict(input: Uint8Array | Float32Array): Prediction {
    this.setInput(input);
    this.exports.run();
    const raw = this.rawOutput();
    let index = 0;
    for (let i = 1; i < raw.length; i++) if (raw[i] > raw[index]) index = i;
    return { index, label: this.info.labels[index] ?? String(index), scores: this.scores() };
  }
}
