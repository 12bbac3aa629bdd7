// Builds a blob: AssemblyScript → wasm in-process with asc (asc-compile.ts), then Binaryen adds weights and strips extras.
import { KilnError } from "./errors.js";
import { compileAssemblyScript, loadToolchain } from "./asc-compile.js";
import { sealBlob, type BlobInput, type BuiltBlob } from "./built-blob.js";

export async function buildBlob(input: BlobInput): Promise<BuiltBlob> {
  const compiled = await compileAssemblyScript(input);
  const { binaryen } = await loadToolchain();
  const mod = binaryen.readBinary(compiled);
  try {
    const f = binaryen.Features;
    mod.setFeatures(f.MVP | f.SignExt | f.MutableGlobals | f.NontrappingFPToInt | f.BulkMemory | f.BulkMemoryOpt | (input.simd ? f.SIMD128 : 0));
    if ((mod as unknown as { getNumDataSegments(): number }).getNumDataSegments() !== 0) throw new KilnError("internal: generated code has static data; the weights segment would collide");
    const memory = mod.getMemoryInfo("0");
    const pages = Math.max(memory.initial, Math.ceil(input.memoryBase / 65536));
    // Fixed-size memory: the blob never allocates, so it never grows; the declared maximum lets hosts bound it
    // before running anything (Model.load refuses a memory without one). setMemory re-adds the export.
    mod.removeExport("memory");
    mod.setMemory(pages, pages, "memory", input.weights.length ? [
      { offset: mod.i32.const(input.weightsBase), data: input.weights, passive: false },
    ] : [], false, false, "0");
    mod.runPasses(["strip-debug", "strip-producers", "strip-target-features", "remove-unused-module-elements"]);
    if (!mod.validate()) throw new KilnError("internal: Binaryen rejected the generated module");
    const stripped = mod.emitBinary();
    const { wasm, contentHash, manifestSection } = await sealBlob(stripped, input.manifest);
    if (!WebAssembly.validate(wasm)) throw new KilnError("internal: the built blob does not validate");
    return {
      wasm, contentHash,
      sizes: { weights: input.weights.length, manifest: manifestSection, code: stripped.length - input.weights.length, total: wasm.length },
    };
  } finally {
    mod.dispose();
  }
}
