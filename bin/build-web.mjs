#!/usr/bin/env node
// npm run build (last step): bundles the web page of `kiln serve` (bin/web/) into dist/web/ with esbuild, and reports
// the size of the runtime core (runtime/model.ts) as a browser bundle, the same code Node runs.
import { copyFileSync, mkdirSync, rmSync, statSync } from "node:fs";
import { dirname, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";
import { build } from "esbuild";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const outdir = resolve(root, "dist/web");
/** The runtime core's budget as a minified browser bundle (issue 16): a build over it says so, loudly. */
const CORE_BUDGET = 10 * 1024;

// The page carries the web sources, the CLI's two dependency-free helpers it shares, and the browser-safe runtime
// only: no Node-only module, no npm package, no compiler.
const NODE_ONLY = new Set(["runtime/package-root.ts", "runtime/worker-model.ts", "runtime/model-worker.ts", "runtime/model-worker-serve.ts", "runtime/build-kernels.ts"]);
const SHARED_WITH_CLI = new Set(["bin/format-bytes.ts", "bin/probabilities.ts"]);
const allowed = (input) => (input.startsWith("bin/web/") || input.startsWith("runtime/") || SHARED_WITH_CLI.has(input)) && !NODE_ONLY.has(input);

const common = { absWorkingDir: root, bundle: true, minify: true, format: "iife", target: "es2020", legalComments: "none", metafile: true, logLevel: "warning" };

rmSync(outdir, { recursive: true, force: true });
mkdirSync(outdir, { recursive: true });
const page = await build({ ...common, entryPoints: { page: "bin/web/page.ts", worker: "bin/web/worker.ts" }, outdir });
for (const file of ["index.html", "style.css"]) copyFileSync(resolve(root, "bin/web", file), resolve(outdir, file));

const foreign = Object.keys(page.metafile.inputs).filter((input) => !allowed(input));
if (foreign.length > 0) {
  console.error(`build-web: the page must not contain these (an import pulled them in):\n  ${foreign.join("\n  ")}`);
  process.exit(1);
}

// The runtime core alone (the package's main entry, `kiln`), as a browser project with code splitting bundles it:
// the main chunk, and what loads only when needed (the JavaScript SHA-256, for hosts without WebCrypto).
const core = await build({ ...common, entryPoints: { core: "runtime/index.ts" }, format: "esm", splitting: true, outdir: resolve(root, "dist/.core-size"), write: false });
const coreMain = core.outputFiles.find((f) => f.path.endsWith("core.js")).contents;
const coreLazy = core.outputFiles.filter((f) => !f.path.endsWith("core.js")).reduce((a, f) => a + f.contents.length, 0);
const kib = (n) => `${(n / 1024).toFixed(1)} KiB`;
const files = ["index.html", "style.css", "page.js", "worker.js"].map((f) => [f, statSync(resolve(outdir, f)).size]);
const total = files.reduce((a, [, n]) => a + n, 0);
console.log(`build-web: ${relative(root, outdir)}/ ${kib(total)} (${files.map(([f, n]) => `${f} ${kib(n)}`).join(", ")}); ` +
  `runtime core ${kib(coreMain.length)} minified, ${kib(gzipSync(coreMain, { level: 9 }).length)} gzipped, + ${kib(coreLazy)} loaded only without WebCrypto` +
  (coreMain.length > CORE_BUDGET ? ` (over its ${kib(CORE_BUDGET)} budget)` : ""));
