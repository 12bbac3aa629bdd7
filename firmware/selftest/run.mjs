// Self-test of the board and runtime: runs a scalar Kiln blob on the emulated board and on Node, and compares output bytes.
// Usage: node firmware/selftest/run.mjs [lenet5|mnist-cnn ...]   (needs dist/ built, qemu-system-arm and the cross compiler)
import { spawn, spawnSync } from "node:child_process";
import { readFileSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { buildFirmware, defaultBuildDir, firmwareDir } from "../build.mjs";

const repo = join(firmwareDir, "..");
const { Model } = await import(join(repo, "dist/runtime/model.js"));

/** The self-test's input: byte i is (7i + 3) mod 256 written raw into the input region (selftest.c does the same). */
function pattern(n) {
  return Uint8Array.from({ length: n }, (_, i) => (i * 7 + 3) & 0xff);
}

async function nodeOutput(blob) {
  const m = await Model.load(blob);
  const width = (dtype) => (dtype === "float32" ? 4 : 1);
  const inBytes = m.inputSize * width(m.info.input.dtype), outBytes = m.outputSize * width(m.info.output.dtype);
  new Uint8Array(m.exports.memory.buffer, m.exports.input_ptr(), inBytes).set(pattern(inBytes));
  m.exports.run();
  const out = new Uint8Array(m.exports.memory.buffer, m.exports.output_ptr(), outBytes).slice();
  return { inBytes, outBytes, out, layers: m.info.layers.map((l) => l.name ?? l.kind ?? "?") };
}

/** Boots the ELF under QEMU with -icount shift=5 and collects the UART until SELFTEST END (or FAIL, or a timeout). */
function boot(elf, timeoutMs) {
  return new Promise((resolve) => {
    const q = spawn("qemu-system-arm", ["-M", "mps2-an386", "-nographic", "-monitor", "none", "-icount", "shift=5",
      "-kernel", elf, "-serial", "stdio"], { stdio: ["pipe", "pipe", "pipe"] });
    let text = "", sent = false;
    const done = () => { clearTimeout(timer); q.kill(); resolve(text); };
    const timer = setTimeout(done, timeoutMs);
    q.stdout.on("data", (d) => {
      text += d;
      if (!sent && text.includes("RX READY")) {
        sent = true;
        q.stdin.write(Uint8Array.from({ length: RX_TEST_BYTES }, (_, i) => (i * 13 + 5) & 0xff));
      }
      if (/SELFTEST END|FAIL[^\n]*\n/.test(text)) done();
    });
    q.stderr.on("data", (d) => { text += d; });
    q.on("exit", () => { clearTimeout(timer); resolve(text); });
  });
}

const RX_TEST_BYTES = 4000; // selftest.c expects these bytes, (13i + 5) mod 256, while it runs the blob

let failed = 0;
for (const model of process.argv.slice(2).length ? process.argv.slice(2) : ["lenet5"]) {
  const dir = join(defaultBuildDir, `selftest-${model}`);
  mkdirSync(dir, { recursive: true });
  const blobPath = join(dir, `${model}-scalar.wasm`);
  const c = spawnSync(process.execPath, [join(repo, "dist/bin/kiln.js"), "compile", join(repo, "models", model, "model.json"),
    "--target", "scalar", "-o", blobPath], { encoding: "utf8" });
  if (c.status !== 0) throw new Error(`compiling ${model} failed:\n${c.stdout}${c.stderr}`);
  const blob = readFileSync(blobPath);
  const host = await nodeOutput(blob);
  const elf = buildFirmware({ buildDir: dir, target: "kiln-fw-selftest", quiet: true, defines: {
    KILN_SELFTEST_BLOB: blobPath, KILN_SELFTEST_INPUT_BYTES: host.inBytes, KILN_SELFTEST_OUTPUT_BYTES: host.outBytes } });
  const started = Date.now();
  const text = await boot(elf, 120_000);
  process.stdout.write(text.endsWith("\n") ? text : text + "\n");
  const hex = [...host.out].map((b) => b.toString(16).padStart(2, "0")).join(" ");
  const board = /^out: (.*)$/m.exec(text)?.[1]?.trim();
  const byLayer = /^out-by-layer: (.*)$/m.exec(text)?.[1]?.trim();
  const rx = new RegExp(`^rx: ${RX_TEST_BYTES} bytes, 0 out of place `, "m").test(text);
  const monotonic = /^cycles: \d+ reads across 3 wraps, 0 backwards$/m.test(text);
  const afterStop = /^out-after-stop: (.*)$/m.exec(text)?.[1]?.trim();
  const stopped = /^run limit 10 ms: stopped after \d+ ms: stopped: /m.test(text);
  const ok = monotonic && stopped && afterStop === hex && board === hex && byLayer === hex && rx && !/FAIL/.test(text);
  console.log(`node: ${hex}`);
  console.log(`${model}: board ${ok ? "equals" : "DIFFERS FROM"} Node (${((Date.now() - started) / 1000).toFixed(1)} s wall)`);
  if (!ok) failed++;
}
process.exit(failed ? 1 : 0);
