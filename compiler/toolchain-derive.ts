// Build step (npm run build): writes dist/toolchain/, a copy of asc and Binaryen that loads in ~0.2 s of CPU instead of ~0.5 s.

// The package's Binaryen is one 13.5 MB JavaScript file whose wasm (8.9 MB) is a string literal: V8 parses the
// whole file, and the string is decoded to bytes, on every load. The copy keeps the wasm in a file of its own, read
// with readFileSync into the same bytes, so only the ~0.2 MB of glue code is parsed. asc's two modules are copied with
// their imports pointed at the copy (one Binaryen, not two), and asc's one fetch() of a data: URL at load (which
// would load Node's whole fetch implementation, ~60 ms) decodes the same base64 with Buffer instead. Nothing else
// changes: the same code runs on the same wasm, so the blobs are the same bytes (tests/toolchain.test.ts checks).
// Where a step finds the package not as expected (another version), it writes nothing: builds use the package.
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join, relative } from "node:path";
import { pathToFileURL } from "node:url";
import { packageRoot } from "../runtime/package-root.js";
import { DERIVED_TOOLCHAIN_DIR, packageDirAbove, toolchainVersions, type DerivedToolchainStamp } from "./toolchain-files.js";

class NotAsExpected extends Error {}

/** Replaces every occurrence of `from` (there must be exactly `count`). */
function replaceExactly(text: string, from: string, to: string, count: number, what: string): string {
  const parts = text.split(from);
  if (parts.length - 1 !== count) throw new NotAsExpected(`${what}: ${parts.length - 1} occurrences of ${from}, expected ${count}`);
  return parts.join(to);
}

/** The folder of package `name` as Node finds it from `fromDir` (the nearest node_modules above it). */
function packageDir(name: string, fromDir: string): string {
  const dir = packageDirAbove(name, fromDir);
  if (!dir) throw new NotAsExpected(`no ${name} package above ${fromDir}`);
  return dir;
}

/** The file `import "long"` loads (its exports' import condition). */
function esmEntry(dir: string): string {
  const pkg = JSON.parse(readFileSync(join(dir, "package.json"), "utf8")) as { exports?: { ".": { import: { default: string } } } };
  const entry = pkg.exports?.["."]?.import?.default;
  if (typeof entry !== "string") throw new NotAsExpected(`${dir}: no ESM entry in its exports`);
  return join(dir, entry);
}

/** The wasm the package's Binaryen instantiates, caught on its way to WebAssembly.instantiate. */
async function binaryenWasm(indexFile: string): Promise<Uint8Array> {
  const instantiate = WebAssembly.instantiate;
  let caught: Uint8Array | undefined;
  (WebAssembly as { instantiate: unknown }).instantiate = (bytes: Uint8Array, imports: WebAssembly.Imports) => {
    caught ??= new Uint8Array(bytes);
    return instantiate(bytes, imports);
  };
  try {
    await import(pathToFileURL(indexFile).href);
  } finally {
    (WebAssembly as { instantiate: unknown }).instantiate = instantiate;
  }
  if (!caught) throw new NotAsExpected("Binaryen did not instantiate its wasm at load");
  return caught;
}

/** Binaryen's glue with its embedded wasm (a template literal starting `\0asm, passed to a decoder) read from a file. */
function glueWithoutWasm(source: string): string {
  const start = source.indexOf("`\\0asm");
  if (start < 0 || source.indexOf("`\\0asm", start + 1) >= 0) throw new NotAsExpected("Binaryen's embedded wasm literal is not where expected");
  const call = /[A-Za-z_$][\w$]*\($/.exec(source.slice(start - 40, start));
  if (!call) throw new NotAsExpected("Binaryen's embedded wasm is not passed to a decoder");
  let end = start + 1;
  while (source[end] !== "`") end += source[end] === "\\" ? 2 : 1;
  if (source[end + 1] !== ")") throw new NotAsExpected("Binaryen's decoder call does not end after the literal");
  const read = `new Uint8Array(kilnReadFileSync(new URL("./binaryen.wasm", import.meta.url)))`;
  return `import { readFileSync as kilnReadFileSync } from "node:fs";\n${source.slice(0, start - call[0].length)}${read}${source.slice(end + 2)}`;
}

async function derive(outDir: string): Promise<void> {
  const require = createRequire(import.meta.url);
  const ascDir = dirname(require.resolve("assemblyscript/package.json"));
  const binaryenDir = packageDir("binaryen", ascDir);
  const longEntry = esmEntry(packageDir("long", ascDir));
  const wasm = await binaryenWasm(join(binaryenDir, "index.js"));
  const glue = glueWithoutWasm(readFileSync(join(binaryenDir, "index.js"), "utf8"));
  const longSpecifier = relative(outDir, longEntry).split("\\").join("/");

  let compiler = readFileSync(join(ascDir, "dist", "assemblyscript.js"), "utf8");
  compiler = replaceExactly(compiler, 'from"binaryen"', 'from"./binaryen.js"', 2, "assemblyscript.js");
  compiler = replaceExactly(compiler, 'from"long"', `from${JSON.stringify(longSpecifier.startsWith(".") ? longSpecifier : `./${longSpecifier}`)}`, 2, "assemblyscript.js");
  compiler = replaceExactly(compiler, "WebAssembly.instantiateStreaming(fetch(",
    "WebAssembly.instantiate((u=>Buffer.from(u.slice(u.indexOf(\",\")+1),\"base64\"))(", 1, "assemblyscript.js");
  let cli = readFileSync(join(ascDir, "dist", "asc.js"), "utf8");
  cli = replaceExactly(cli, 'from"binaryen"', 'from"./binaryen.js"', 2, "asc.js");
  cli = replaceExactly(cli, 'from"assemblyscript"', 'from"./assemblyscript.js"', 1, "asc.js");

  rmSync(outDir, { recursive: true, force: true });
  mkdirSync(outDir, { recursive: true });
  writeFileSync(join(outDir, "binaryen.wasm"), wasm);
  writeFileSync(join(outDir, "binaryen.js"), glue);
  writeFileSync(join(outDir, "assemblyscript.js"), compiler);
  writeFileSync(join(outDir, "asc.js"), cli);
  // Written last: a copy without its stamp (a build stopped half-way) is never used.
  const stamp: DerivedToolchainStamp = toolchainVersions();
  writeFileSync(join(outDir, "stamp.json"), JSON.stringify(stamp));
  // The copy instantiates exactly the bytes the package does.
  const copied = await binaryenWasm(join(outDir, "binaryen.js"));
  if (Buffer.compare(copied, wasm) !== 0) {
    rmSync(outDir, { recursive: true, force: true });
    throw new NotAsExpected("the copied Binaryen instantiates other bytes than the package's");
  }
}

async function main(): Promise<void> {
  const outDir = join(packageRoot(), DERIVED_TOOLCHAIN_DIR);
  try {
    await derive(outDir);
    console.log(`kiln: fast-loading toolchain copy written (${DERIVED_TOOLCHAIN_DIR}/)`);
  } catch (e) {
    if (!(e instanceof NotAsExpected)) throw e;
    rmSync(outDir, { recursive: true, force: true });
    console.log(`kiln: no fast-loading toolchain copy (${e.message}); builds load the assemblyscript package as it is`);
  }
}

main().catch((e) => { console.error(e); process.exit(1); });
