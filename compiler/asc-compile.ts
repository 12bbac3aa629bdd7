// Compiles the generated AssemblyScript with asc, which can start on its standard library before the model is known.

// asc parses its whole standard library (~90 files, ~0.27 s of CPU in a fresh process) before it reads the entry
// file, and that part is the same for every model. prepareCompile() starts asc at once, with a readFile hook whose
// answer for model.ts waits for the model: a builder that is idle while its parent calibrates spends that time
// parsing. The two options that depend on the model (the memory base and SIMD) are set by an afterParse transform,
// asc's hook between parsing and the program's initialization; nothing reads them before that (the parser looks
// only at the multi-value feature), so the program is the one that `--memoryBase N --enable simd` would give.
import { KilnError } from "./errors.js";
import { kernelLibrary } from "./codegen/kernels.js";
import { PACKAGE_TOOLCHAIN, toolchainModules, type ToolchainModules } from "./toolchain-files.js";

type Asc = typeof import("assemblyscript/asc").default;
type Binaryen = typeof import("assemblyscript/binaryen").default;
/** The parts of the compiler's API (the "assemblyscript" module that asc itself drives) used here. */
interface AscCompilerApi {
  setMemoryBase(options: unknown, memoryBase: number): void;
  setFeature(options: unknown, feature: number, on: boolean): void;
  FEATURE_SIMD: number;
}
export interface Toolchain { asc: Asc; binaryen: Binaryen; compiler: AscCompilerApi }

let toolchain: Promise<Toolchain> | undefined;

/**
 * asc and Binaryen, loaded on first use: they take most of a second to load, and only building needs them.
 * Binaryen is AssemblyScript's own copy, which asc loads anyway (another version would be 15 MB more to load);
 * toolchain-files.ts picks the fast-loading copy of all three when the build made one.
 */
export function loadToolchain(): Promise<Toolchain> {
  toolchain ??= (async () => {
    const modules = toolchainModules();
    // A copy that does not load (moved away from the node_modules it points into) is only a lost speed-up.
    return modules !== PACKAGE_TOOLCHAIN ? load(modules).catch(() => load(PACKAGE_TOOLCHAIN)) : load(modules);
  })();
  return toolchain;
}

async function load(modules: ToolchainModules): Promise<Toolchain> {
  const [asc, binaryen, compiler] = await Promise.all([
    import(modules.asc) as Promise<typeof import("assemblyscript/asc")>,
    import(modules.binaryen) as Promise<typeof import("assemblyscript/binaryen")>,
    import(modules.compiler) as Promise<AscCompilerApi>,
  ]);
  return { asc: asc.default, binaryen: binaryen.default, compiler };
}

/** What asc needs of a build. */
export interface AscInput { source: string; memoryBase: number; simd: boolean }

interface PreparedCompile { compile(input: AscInput): Promise<Uint8Array> }

/** The options every build shares; the memory base and SIMD come from the model (ModelOptions). */
const ASC_ARGV = ["model.ts", "--outFile", "model.wasm", "--runtime", "stub", "--noAssert", "--use", "abort=", "--optimizeLevel", "3", "--shrinkLevel", "1"];

function startCompile(): PreparedCompile {
  let give!: (input: AscInput) => void;
  const model = new Promise<AscInput>((resolve) => { give = resolve; });
  const binary = (async () => {
    const { asc, compiler } = await loadToolchain();
    const kernels = kernelLibrary();
    let input: AscInput | undefined;
    let wasm: Uint8Array | undefined;
    let errors = "";
    // asc assigns `program` to a transform class's prototype before constructing it.
    class ModelOptions {
      declare program: { options: unknown };
      afterParse(): void {
        if (!input) throw new Error("internal: asc parsed the model before it was given");
        compiler.setMemoryBase(this.program.options, input.memoryBase >>> 0);
        if (input.simd) compiler.setFeature(this.program.options, compiler.FEATURE_SIMD, true);
      }
    }
    const { error } = await asc.main([...ASC_ARGV], {
      readFile(name: string) {
        const file = name.replace(/\\/g, "/").replace(/^\.\//, "");
        if (file === "model.ts") return model.then((given) => { input = given; return given.source; });
        const match = /^kernels\/([\w-]+)\.ts$/.exec(file);
        return match ? kernels.sources.get(match[1]) ?? null : null;
      },
      writeFile(name: string, contents: Uint8Array | string) {
        if (name.endsWith(".wasm") && typeof contents !== "string") wasm = contents;
      },
      listFiles: () => [],
      transforms: [ModelOptions as never],
      stdout: { write: () => true } as never,
      stderr: { write: (s: string | Uint8Array) => { errors += String(s); return true; } } as never,
    });
    if (error || !wasm) throw new KilnError(`internal: the generated AssemblyScript did not compile:\n${errors || error?.message}`);
    return wasm;
  })();
  // A failure before any model is given (the toolchain did not load) surfaces from compile(), not as an unhandled rejection.
  binary.catch(() => undefined);
  return { compile(input) { give(input); return binary; } };
}

let prepared: PreparedCompile | undefined;

/** Loads the toolchain and parses asc's standard library now, for the next compileAssemblyScript (builders call it while idle). */
export function prepareCompile(): void {
  prepared ??= startCompile();
}

/** The generated source → asc's wasm (-O3, shrink level 1), from a prepared compile when there is one. */
export function compileAssemblyScript(input: AscInput): Promise<Uint8Array> {
  const compile = prepared ?? startCompile();
  prepared = undefined;
  return compile.compile(input);
}
