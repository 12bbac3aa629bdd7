// `kiln serve`: a web page that runs a blob in the browser: manifest, live digit drawing, per-layer profile.
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { KilnError, UsageError } from "../../compiler/errors.js";
import { INPUT_LIMITS, readInputFile } from "../../io/input-file.js";
import { inspectBlob } from "../../runtime/model.js";
import { packageRoot } from "../../runtime/package-root.js";
import { defineCommand, parseArgs } from "../args.js";
import { modelNotBlob } from "../blob-runs.js";
import { formatBytes, type Io } from "../io.js";
import { startWebServer } from "../web-server.js";

export const serveSpec = defineCommand({
  name: "serve",
  summary: "serve a web page that runs a blob in the browser: draw a digit, see the manifest and a per-layer profile",
  usage: "kiln serve [blob.wasm] [--port N] [--host ADDRESS] [--target simd|scalar]",
  options: {
    port: { type: "number", integer: true, min: 0, max: 65535, default: 8080, description: "port to listen on (0 picks a free one)" },
    host: { type: "string", default: "127.0.0.1", description: "address to listen on (only this computer by default)" },
    target: { type: "string", choices: ["simd", "scalar"], default: "simd", description: "without a blob: the kernel flavour of the bundled MNIST blob" },
  },
});

/** A digest of every file under `paths` (names and contents): what the bundled blob is compiled from. */
function sourcesDigest(paths: string[]): string {
  const hash = createHash("sha256");
  const add = (path: string): void => {
    let stats;
    try { stats = statSync(path); } catch { return; }
    if (stats.isDirectory()) { for (const name of readdirSync(path).sort()) add(join(path, name)); return; }
    hash.update(`${path}\0${stats.size}\0`).update(readFileSync(path));
  };
  paths.forEach(add);
  return hash.digest("hex");
}

/**
 * models/mnist-cnn compiled to int8 for `target`, cached in dist/serve/ under a digest of the model, the compiler and
 * the kernels (a rebuild that changes none of them keeps it; modification times would not: tsc rewrites every file).
 */
async function bundledBlob(target: "simd" | "scalar", io: Io): Promise<Uint8Array> {
  const root = packageRoot();
  const modelDir = join(root, "models", "mnist-cnn");
  const compilerDir = fileURLToPath(new URL("../../compiler/", import.meta.url));
  const digest = sourcesDigest([join(modelDir, "model.json"), join(modelDir, "group1-shard1of1.bin"), compilerDir, join(root, "runtime", "kernels")]);
  const cached = join(root, "dist", "serve", `mnist-cnn-${target}-${digest.slice(0, 16)}.wasm`);
  if (existsSync(cached)) {
    const bytes = new Uint8Array(readFileSync(cached));
    if (await inspectBlob(bytes).then(() => true, () => false)) return bytes;
  }
  io.out(`compiling models/mnist-cnn to an int8 ${target} blob for the page (once: it is kept in ${join("dist", "serve")})…`);
  // Loaded here, not at the top: serving a given blob never needs the compiler.
  const [{ compileFile }, { calibrationImages }] = await Promise.all([import("../../compiler/compile.js"), import("../calibration.js")]);
  const compiled = await compileFile(join(modelDir, "model.json"), {
    quantize: "int8", target, pixelScale: 1 / 255, pixelOffset: 0, calibration: calibrationImages(),
  });
  try {
    const dir = dirname(cached);
    mkdirSync(dir, { recursive: true });
    // Older blobs of this target go: only the current one is ever read.
    for (const old of readdirSync(dir).filter((f) => f.startsWith(`mnist-cnn-${target}-`))) rmSync(join(dir, old), { force: true });
    writeFileSync(cached, compiled.wasm);
  } catch (e) {
    io.err(`kiln serve: could not keep the blob in ${cached} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}); serving it from memory`);
  }
  return compiled.wasm;
}

async function givenBlob(path: string): Promise<Uint8Array> {
  if (!existsSync(path)) throw new KilnError(`kiln serve: ${path}: file not found`);
  const notBlob = modelNotBlob("serve", path);
  if (notBlob) throw notBlob;
  let bytes: Uint8Array;
  try { bytes = readInputFile(path, "blob", INPUT_LIMITS.maxBlobBytes); } catch (e) {
    throw e instanceof KilnError ? e : new KilnError(`kiln serve: ${path}: cannot read it (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  // Checked (never run) here too, so that a wrong file is a clear line in the terminal rather than an error on the page.
  await inspectBlob(bytes).catch((e: Error) => { throw new KilnError(`kiln serve: ${path}: ${e.message}`); });
  return bytes;
}

/** Resolves when the process is asked to stop (Ctrl-C, SIGTERM). */
const stopRequested = (): Promise<string> => new Promise((resolve) => {
  process.once("SIGINT", () => resolve("SIGINT"));
  process.once("SIGTERM", () => resolve("SIGTERM"));
});

export async function serveCommand(argv: string[], io: Io): Promise<void> {
  const { positionals, options } = parseArgs(serveSpec, argv);
  if (positionals.length > 1) throw new UsageError(`kiln serve: one blob at most, got ${positionals.length} (usage: ${serveSpec.usage})`);
  const [path] = positionals;
  if (path !== undefined && argv.some((a) => a === "--target" || a.startsWith("--target="))) {
    throw new UsageError("kiln serve: --target chooses the bundled MNIST blob's flavour; a given blob has its own target");
  }
  const target = options.target;
  const blob = path === undefined ? await bundledBlob(target, io) : await givenBlob(path);
  const server = await startWebServer({
    webDir: join(packageRoot(), "dist", "web"), blob, host: options.host, port: options.port,
    blobFile: path === undefined ? `mnist-cnn-${target}.wasm` : basename(path),
    blobNote: path === undefined ? `the bundled MNIST model, int8 ${target}` : "given to kiln serve",
  });
  io.out(`kiln serve: ${server.url}  (${path === undefined ? `bundled MNIST blob, int8 ${target}` : basename(path)}, ${formatBytes(blob.byteLength)}; Ctrl-C stops it)`);
  await stopRequested();
  await server.close();
}
