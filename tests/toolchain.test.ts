// The build's speed-ups change no byte: asc prepared before the model (asc-compile.ts) and the fast-loading toolchain copy (toolchain-derive.ts) against plain asc and the package.
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import asc from "assemblyscript/asc";
import { describe, expect, it } from "vitest";
import { calibrationImages } from "../bin/calibration.js";
import { DEFAULT_COMPILE_OPTIONS, generateModel, loadModel } from "../compiler/compile.js";
import { compileAssemblyScript, prepareCompile } from "../compiler/asc-compile.js";
import { kernelLibrary } from "../compiler/codegen/kernels.js";
import { KilnError } from "../compiler/errors.js";
import { DERIVED_TOOLCHAIN_DIR, derivedToolchainIn, toolchainVersions } from "../compiler/toolchain-files.js";
import { tempDir } from "./helpers.js";

const ROOT = resolve(import.meta.dirname, "..");
const CLI = join(ROOT, "dist", "bin", "kiln.js");
const LENET = join(ROOT, "models", "lenet5", "model.json");

/** asc as Kiln called it before the preparation: every option, the memory base and SIMD included, up front. */
async function plainAsc(source: string, memoryBase: number, simd: boolean): Promise<Uint8Array> {
  const kernels = kernelLibrary();
  let wasm: Uint8Array | undefined;
  const { error } = await asc.main([
    "model.ts", "--outFile", "model.wasm", "--runtime", "stub", "--noAssert", "--use", "abort=",
    "--optimizeLevel", "3", "--shrinkLevel", "1", "--memoryBase", String(memoryBase), ...(simd ? ["--enable", "simd"] : []),
  ], {
    readFile: (name: string) => name === "model.ts" ? source : kernels.sources.get(/^kernels\/([\w-]+)\.ts$/.exec(name)?.[1] ?? "") ?? null,
    writeFile: (name: string, contents: Uint8Array | string) => { if (typeof contents !== "string") wasm = contents; },
    listFiles: () => [],
  });
  if (error || !wasm) throw error ?? new Error("no wasm");
  return wasm;
}

describe("asc prepared before the model is known", () => {
  const cases = [
    { name: "int8 simd", quantize: "int8", target: "simd" },
    { name: "int8 scalar", quantize: "int8", target: "scalar" },
    { name: "float simd", quantize: "none", target: "simd" },
  ] as const;
  for (const c of cases) {
    it(`gives the bytes asc gives with every option up front (LeNet-5, ${c.name})`, async () => {
      const generated = generateModel(loadModel(LENET), {
        ...DEFAULT_COMPILE_OPTIONS, quantize: c.quantize, target: c.target, calibration: calibrationImages(), calibrationCount: 20,
      });
      const input = { source: generated.source, memoryBase: generated.layout.end, simd: c.target === "simd" };
      expect(input.memoryBase).toBeGreaterThan(0);
      prepareCompile();
      await new Promise((r) => setTimeout(r, 50)); // the prepared compile is waiting for its model
      const prepared = await compileAssemblyScript(input);
      expect(Buffer.from(prepared).equals(Buffer.from(await plainAsc(input.source, input.memoryBase, input.simd)))).toBe(true);
    }, 120_000);
  }

  it("reports a source that does not compile as an internal KilnError with asc's message", async () => {
    prepareCompile();
    const failed = compileAssemblyScript({ source: "export function f(): i32 { return missing_name; }", memoryBase: 65536, simd: true });
    await expect(failed).rejects.toThrow(KilnError);
    await expect(failed).rejects.toThrow(/did not compile[^]*missing_name/);
    // The next compile is unaffected.
    const ok = await compileAssemblyScript({ source: "export function f(): i32 { return 1; }", memoryBase: 65536, simd: false });
    expect(WebAssembly.validate(ok)).toBe(true);
  }, 120_000);
});

describe("the fast-loading toolchain copy (dist/toolchain)", () => {
  const dir = join(ROOT, DERIVED_TOOLCHAIN_DIR);

  it("is written by the build, stamped with the installed versions", () => {
    expect(existsSync(join(dir, "stamp.json")), "dist/toolchain/ missing: tests/global-setup.ts runs toolchain-derive").toBe(true);
    expect(JSON.parse(readFileSync(join(dir, "stamp.json"), "utf8"))).toEqual(toolchainVersions());
    expect(derivedToolchainIn(dir)?.asc).toBe(pathToFileURL(join(dir, "asc.js")).href);
  });

  it("is not used when its stamp names other versions, nor when it is absent", () => {
    const stale = tempDir("kiln-toolchain-");
    writeFileSync(join(stale, "stamp.json"), JSON.stringify({ ...toolchainVersions(), binaryen: "0.0.1" }));
    expect(derivedToolchainIn(stale)).toBeUndefined();
    const empty = join(stale, "empty");
    mkdirSync(empty);
    expect(derivedToolchainIn(empty)).toBeUndefined();
  });

  it("holds exactly the wasm the package's Binaryen instantiates", () => {
    // In a process of its own: the package's Binaryen, caught on its way to WebAssembly.instantiate.
    const script = `import { readFileSync } from "node:fs";
      const original = WebAssembly.instantiate; let bytes;
      WebAssembly.instantiate = (b, i) => { bytes ??= new Uint8Array(b); return original(b, i); };
      await import("assemblyscript/binaryen");
      process.stdout.write(String(Buffer.from(bytes).equals(readFileSync(${JSON.stringify(join(dir, "binaryen.wasm"))}))));`;
    const r = spawnSync(process.execPath, ["--input-type=module", "-e", script], { cwd: ROOT, encoding: "utf8" });
    expect(r.stderr).toBe("");
    expect(r.stdout).toBe("true");
  }, 60_000);

  it("builds blobs byte-identical to the package's, through kiln compile's builder (int8 simd and scalar)", () => {
    const out = tempDir("kiln-toolchain-");
    for (const target of ["simd", "scalar"]) {
      const blobs = ["copy", "package"].map((toolchain) => {
        const file = join(out, `${target}-${toolchain}.wasm`);
        const env = { ...process.env, KILN_TOOLCHAIN: toolchain === "package" ? "package" : "" };
        const r = spawnSync(process.execPath, [CLI, "compile", LENET, "-o", file, "-q", "--target", target, "--calibration-count", "50"], { cwd: ROOT, encoding: "utf8", env });
        expect(r.stderr).toBe("");
        expect(r.status).toBe(0);
        return readFileSync(file);
      });
      expect(blobs[0].equals(blobs[1]), `${target}: the copy's blob differs from the package's`).toBe(true);
    }
  }, 120_000);
});

describe("kiln compile's builder process", () => {
  it("hands its build back when it dies: the compile succeeds in-process with the same blob", () => {
    const out = tempDir("kiln-builder-");
    // Preloaded into every Node process of the command; only the builder (a forked child) has process.send.
    const preload = join(out, "builder-dies.mjs");
    writeFileSync(preload, "if (process.send) process.exit(7);\n");
    const blobs = [false, true].map((dies) => {
      const file = join(out, `${dies ? "died" : "normal"}.wasm`);
      const env = { ...process.env, NODE_OPTIONS: dies ? `--import ${pathToFileURL(preload).href}` : "" };
      const r = spawnSync(process.execPath, [CLI, "compile", LENET, "-o", file, "-q", "--calibration-count", "50"], { cwd: ROOT, encoding: "utf8", env });
      expect(r.stderr).toBe("");
      expect(r.status).toBe(0);
      return readFileSync(file);
    });
    expect(blobs[0].equals(blobs[1])).toBe(true);
  }, 120_000);
});
