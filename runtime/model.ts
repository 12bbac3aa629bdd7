// Loads a Kiln blob and runs it: the runtime core, free of Node-only imports so it also runs in browsers.
import { checkContentHash } from "./content-hash.js";
import { BlobError, BlobMemoryError } from "./errors.js";
import { MANIFEST_VERSION, type Manifest } from "./manifest.js";
import { validateManifest } from "./manifest-check.js";
import { profileModel, type ProfileOptions, type ProfileResult } from "./profile.js";
import { EXPORT_KIND, readWasmLayout, WASM_PAGE, type MemoryLimits, type Section, type WasmLayout } from "./wasm-layout.js";

export type { Manifest } from "./manifest.js";
export { BlobError, BlobMemoryError } from "./errors.js";

/** The blob's exports: the ABI README.md's "The blob" describes. */
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

export interface LoadOptions {
  /** Largest memory a blob may declare as its maximum, in bytes (default DEFAULT_MEMORY_LIMIT). */
  memoryLimit?: number;
}

/** 256 MiB: the agent's default too. */
export const DEFAULT_MEMORY_LIMIT = 256 * 1024 * 1024;

const REQUIRED_EXPORTS: [string, number][] = [
  ["memory", EXPORT_KIND.memory], ["input_ptr", EXPORT_KIND.function], ["output_ptr", EXPORT_KIND.function],
  ["run", EXPORT_KIND.function], ["layer_count", EXPORT_KIND.function], ["run_layer", EXPORT_KIND.function],
];

function manifestSection(layout: WasmLayout): Section {
  const found = layout.sections.filter((s) => s.id === 0 && s.name === "kiln.manifest");
  if (found.length === 0) throw new BlobError("not a Kiln blob: no kiln.manifest custom section");
  if (found.length > 1) throw new BlobError(`blob has ${found.length} kiln.manifest sections; a Kiln blob has one`);
  if (found[0] !== layout.sections[layout.sections.length - 1]) throw new BlobError("blob is corrupt: sections follow the kiln.manifest section");
  return found[0];
}

function parseManifest(bytes: Uint8Array): unknown {
  try {
    return JSON.parse(new TextDecoder().decode(bytes)) as unknown;
  } catch {
    throw new BlobError("kiln.manifest is not valid JSON");
  }
}

/** Checks the hash first: an old manifest version gets its own message rather than "no content hash". */
async function trustedManifest(bytes: Uint8Array, section: Section): Promise<Manifest> {
  const text = bytes.subarray(section.contentStart, section.end);
  try {
    await checkContentHash(bytes, section);
  } catch (e) {
    const peek = parseManifest(text) as { version?: unknown } | null;
    if (typeof peek?.version === "number" && peek.version !== MANIFEST_VERSION) validateManifest(peek);
    throw e;
  }
  return validateManifest(parseManifest(text));
}

/** The blob's one memory, refused without a maximum or with one above `limit` bytes. */
export function checkMemory(layout: WasmLayout, limit: number): MemoryLimits {
  if (layout.importCount > 0) throw new BlobError(`blob has ${layout.importCount} imports; Kiln blobs import nothing`);
  if (layout.memories.length !== 1) throw new BlobError(`blob defines ${layout.memories.length} memories; Kiln blobs have one`);
  const memory = layout.memories[0];
  if (memory.maxPages === null) throw new BlobMemoryError("blob's memory declares no maximum size; Kiln blobs declare one (compile it again)", Infinity);
  const bytes = memory.maxPages * WASM_PAGE;
  if (bytes > limit) throw new BlobMemoryError(`blob's memory may grow to ${bytes} bytes; the limit here is ${limit}`, bytes);
  return memory;
}

function checkExportKinds(layout: WasmLayout): void {
  for (const [name, kind] of REQUIRED_EXPORTS) {
    if (layout.exports.get(name) !== kind) {
      throw new BlobError(`blob does not export ${kind === EXPORT_KIND.memory ? "a memory" : "a function"} named ${name}; Kiln blobs export memory, input_ptr, output_ptr, run, layer_count and run_layer`);
    }
  }
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

const canCompileSync = (view: Uint8Array): boolean => view.byteLength <= SYNC_COMPILE_LIMIT && view.buffer instanceof ArrayBuffer;

export interface InspectedBlob {
  module: WebAssembly.Module;
  info: Manifest;
  memory: MemoryLimits;
}

/**
 * Everything about a blob that can be checked without running any of its code: structure, content hash, manifest
 * schema, memory maximum, exports; then compiles it. Nothing of the blob executes (no instantiation).
 */
export async function inspectBlob(bytes: Uint8Array | ArrayBuffer, options: LoadOptions = {}): Promise<InspectedBlob> {
  const view = bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes);
  const layout = readWasmLayout(view);
  const info = await trustedManifest(view, manifestSection(layout));
  const memory = checkMemory(layout, options.memoryLimit ?? DEFAULT_MEMORY_LIMIT);
  checkExportKinds(layout);
  // Synchronous compile and instantiate take a third off a small blob's start-up (no separate validate pass,
  // no task hops, no copy). Browsers refuse them on the main thread for all but tiny modules (a RangeError):
  // then, and for blobs big enough that blocking would be felt, the async path.
  let module: WebAssembly.Module;
  try {
    module = (canCompileSync(view) ? refusedIsUndefined(() => new WebAssembly.Module(view as Uint8Array<ArrayBuffer>)) : undefined) ??
      // It reads the bytes after returning: a copy keeps the caller's later writes out.
      await WebAssembly.compile(view.slice());
  } catch (e) {
    if (e instanceof WebAssembly.CompileError) throw new BlobError("not a valid WebAssembly module (is the file truncated or corrupt?)");
    throw e;
  }
  return { module, info, memory };
}

const sizeOf = (shape: number[]): number => shape.reduce((a, b) => a * b, 1);

/** Where the blob keeps a tensor: its pointer, checked to lie inside memory and aligned for the dtype. */
function region(exports: BlobExports, which: "input" | "output", info: Manifest): number {
  const spec = info[which];
  const ptr = exports[`${which}_ptr`]();
  const width = spec.dtype === "float32" ? 4 : 1;
  const bytes = sizeOf(spec.shape) * width;
  const memoryBytes = exports.memory.buffer.byteLength;
  if (!Number.isInteger(ptr) || ptr < 0 || ptr % width !== 0 || ptr + bytes > memoryBytes) {
    throw new BlobError(`${which}_ptr() is ${ptr}: ${bytes} bytes of ${which} [${spec.shape.join(", ")}] ${spec.dtype} there do not fit in the blob's ${memoryBytes}-byte memory`);
  }
  return ptr;
}

/** Instantiates a compiled blob (runs its start function, if any) and checks its ABI against the manifest. */
async function instantiate(module: WebAssembly.Module, info: Manifest): Promise<{ exports: BlobExports; inputPtr: number; outputPtr: number }> {
  let instance: WebAssembly.Instance;
  try {
    instance = refusedIsUndefined(() => new WebAssembly.Instance(module, {})) ?? await WebAssembly.instantiate(module, {});
  } catch (e) {
    // A trap in the start function, or memory the host cannot allocate.
    if (e instanceof WebAssembly.RuntimeError || e instanceof WebAssembly.LinkError || e instanceof RangeError) throw new BlobError(`the blob failed to start: ${e.message}`);
    throw e;
  }
  const exports = instance.exports as unknown as BlobExports;
  const inputPtr = region(exports, "input", info), outputPtr = region(exports, "output", info);
  const layers = exports.layer_count();
  if (layers !== info.layers.length) throw new BlobError(`layer_count() is ${layers}; the manifest lists ${info.layers.length} layers`);
  return { exports, inputPtr, outputPtr };
}

export class Model {
  private constructor(readonly info: Manifest, readonly exports: BlobExports, private readonly inputPtr: number, private readonly outputPtr: number) {}

  /**
   * Checks (inspectBlob), compiles and instantiates a blob; it has no imports, so nothing needs to be provided.
   * The blob's start function and pointer exports run here, on this thread: hosts that must survive hostile blobs
   * load them on a worker (runtime/worker-model.ts in Node).
   */
  static async load(bytes: Uint8Array | ArrayBuffer, options: LoadOptions = {}): Promise<Model> {
    return Model.instantiate(await inspectBlob(bytes, options));
  }

  /** A running instance of a blob inspectBlob accepted (a worker gets the compiled module, not the bytes). */
  static async instantiate({ module, info }: Pick<InspectedBlob, "module" | "info">): Promise<Model> {
    const { exports, inputPtr, outputPtr } = await instantiate(module, info);
    return new Model(info, exports, inputPtr, outputPtr);
  }

  get inputSize(): number { return sizeOf(this.info.input.shape); }
  get outputSize(): number { return sizeOf(this.info.output.shape); }

  /** Writes one input: uint8 pixels (mapped with the manifest's pixel scale/offset) or floats in model units. */
  setInput(input: Uint8Array | Float32Array): void {
    const { input: spec } = this.info;
    if (input.length !== this.inputSize) {
      throw new BlobError(`input has ${input.length} values; model '${this.info.model}' expects [${spec.shape.join(", ")}] = ${this.inputSize}`);
    }
    const buffer = this.exports.memory.buffer;
    const pixels = input instanceof Uint8Array;
    if (spec.dtype === "float32") {
      const view = new Float32Array(buffer, this.inputPtr, input.length);
      for (let i = 0; i < input.length; i++) view[i] = pixels ? input[i] * spec.pixelScale + spec.pixelOffset : input[i];
      return;
    }
    const view = new Int8Array(buffer, this.inputPtr, input.length);
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
    const buffer = this.exports.memory.buffer;
    return this.info.output.dtype === "float32"
      ? new Float32Array(buffer, this.outputPtr, this.outputSize).slice()
      : new Int8Array(buffer, this.outputPtr, this.outputSize).slice();
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
