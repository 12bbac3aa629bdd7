#!/usr/bin/env node
// npm run build:agent: bundles `kiln agent` into one file, dist/kiln-agent.mjs, that runs on Node >= 18 with nothing
// installed beside it (serialport, for --serial only, is loaded from a node_modules folder next to it when present).
import { readFileSync, statSync } from "node:fs";
import { dirname, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const outfile = resolve(root, "dist/kiln-agent.mjs");
const { version } = JSON.parse(readFileSync(resolve(root, "package.json"), "utf8"));

// What the agent must never carry: the compiler (beyond its small error classes and the option parser's
// did-you-mean), TF.js, ONNX, AssemblyScript, or any npm package at all (the agent uses Node's own modules only).
const COMPILER_FILES_ALLOWED = new Set(["compiler/errors.ts", "compiler/suggest.ts"]);
const allowed = (input) => !input.startsWith("node_modules/") && (!input.startsWith("compiler/") || COMPILER_FILES_ALLOWED.has(input));

const banner = [
  "#!/usr/bin/env node",
  `// kiln-agent ${version}: the device side of Kiln in one file (docs/raspberry-pi.md: install, systemd, use).`,
  "// Run: node kiln-agent.mjs --tcp 0.0.0.0:7000 --token-file /etc/kiln/token --store /var/lib/kiln   (Node >= 18)",
  "//      node kiln-agent.mjs --serial /dev/ttyGS0 --store /var/lib/kiln   (needs: npm install serialport@13 next to this file)",
  "// Built from bin/agent-main.ts by bin/build-agent.mjs (esbuild, minified); --help lists every option.",
].join("\n");

const result = await build({
  absWorkingDir: root,
  entryPoints: ["bin/agent-main.ts"],
  outfile,
  bundle: true,
  platform: "node",
  format: "esm",
  target: "node18",
  minify: true,
  // Error classes print their names; keep them readable in a KILN_DEBUG stack trace.
  keepNames: true,
  legalComments: "none",
  external: ["serialport"],
  banner: { js: banner },
  define: { KILN_BUNDLED_VERSION: JSON.stringify(version) },
  metafile: true,
  logLevel: "warning",
});

const inputs = Object.keys(result.metafile.inputs);
const foreign = inputs.filter((input) => !allowed(input));
if (foreign.length > 0) {
  console.error(`build-agent: the agent bundle must not contain these (an import pulled them in):\n  ${foreign.join("\n  ")}`);
  process.exit(1);
}
const bytes = statSync(outfile).size;
console.log(`build-agent: ${relative(root, outfile)} ${(bytes / 1024).toFixed(1)} KiB from ${inputs.length} modules (Node >= 18; serialport loaded at run time for --serial)`);
