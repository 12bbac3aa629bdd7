// Builds a blob: AssemblyScript → wasm in-process with asc, then Binaryen adds weights and strips extras.
import { KilnError } from "./errors.js";
import { kernelLibrary } from "./codegen/kernels.js";
import { addCustomSection } from "./wasm-sections.js";
import { sealManifest } from "../runtime/content-hash.js";

export type { BlobInput, BuiltBlob } from "./built-blob.js";
import type { BlobInput, BuiltBlob } from "./built-blob.js";

type Asc = typeof import("assemblyscript/asc").default;
type Binaryen = typeof import("assemblyscript/binaryen").default;

let toolchain: Promise<{ asc: Asc; binaryen: Binaryen }> | undefined;

/**
 * asc and Binaryen, loaded on first use: they take most of a second to load, and only building needs them.
 * Binaryen is AssemblyScript's own copy, which asc loads anyway (another version would be 15 MB more to load).
 */
export function loadToolchain(): Promise<{ asc: Asc; binaryen: Binaryen }> {
  toolchain ??= Promise.all([import("assemblyscript/asc"), import("assemblyscript/binaryen")])
    .then(([asc, binaryen]) => ({ asc: asc.default, binaryen: binaryen.default }));
  return toolchain;
}

async function compileAssemblyScript(source: string, memoryBase: number, simd: boolean): Promise<Uint8Array> {
  const { asc } = await loadToolchain();
  const kernels = kernelLibrary();
  let binary: Uint8Array | undefined;
  let errors = "";
  const argv = [
    "model.ts", "--outFile", "model.wasm", "--runtime", "stub", "--noAssert", "--use", "abort=",
    "--optimizeLevel", "3", "--shrinkLevel", "1", "--memoryBase", String(memoryBase),
    ...(simd ? ["--enable", "simd"] : []),
  ];
  const { error } = await asc.main(argv, {
    readFile(name: string) {
      const file = name.replace(/\\/g, "/").replace(/^\.\//, "");
      if (file === "model.ts") return source;
      const match = /^kernels\/([\w-]+)\.ts$/.exec(file);
      return match ? kernels.sources.get(match[1]) ?? null : null;
    },
    writeFile(name: string, contents: Uint8Array | string) {
      if (name.endsWith(".wasm") && typeof contents !== "string") binary = contents;
    },
    listFiles: () => [],
    stdout: { write: () => true } as never,
    stderr: { write: (s: string | Uint8Array) => { errors += String(s); return true; } } as never,
  });
  if (error || !binary) throw new KilnError(`internal: the generated AssemblyScript did not compile:\n${errors || error?.message}`);
  return binary;
}

export async function buildBlob(input: BlobInput): Promise<BuiltBlob> {
  const compiled = await compileAssemblyScript(input.source, input.memoryBase, input.simd);
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
    // Last section, and sealed with a hash of everything before it: see runtime/content-hash.ts.
    const manifestBytes = await sealManifest(stripped, input.manifest);
    const wasm = addCustomSection(stripped, "kiln.manifest", manifestBytes);
    if (!WebAssembly.validate(wasm)) throw new KilnError("internal: the built blob does not validate");
    const manifestSection = wasm.length - stripped.length;
    const contentHash = (JSON.parse(new TextDecoder().decode(manifestBytes)) as { contentHash: string }).contentHash;
    return {
      wasm, contentHash,
      sizes: { weights: input.weights.length, manifest: manifestSection, code: stripped.length - input.weights.length, total: wasm.length },
    };
  } finally {
    mod.dispose();
  }
}
