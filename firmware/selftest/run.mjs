// Self-test of the board and runtime: runs a scalar Kiln blob on the emulated board and on Node, and compares output bytes.
// Usage: node firmware/selftest/run.mjs [lenet5|mnist-cnn ...]   (needs dist/ built, qemu-system-arm and the cross compiler)
import { spawnSync } from "node:child_process";
import { readFileSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { buildFirmware, defaultBuildDir, firmwareDir } from "../build.mjs";
import { bootSelftest, nodeSelftestOutput, RX_TEST_BYTES } from "./boot.mjs";

const repo = join(firmwareDir, "..");
const { Model } = await import(join(repo, "dist/runtime/model.js"));

let failed = 0;
for (const model of process.argv.slice(2).length ? process.argv.slice(2) : ["lenet5"]) {
  const dir = join(defaultBuildDir, `selftest-${model}`);
  mkdirSync(dir, { recursive: true });
  const blobPath = join(dir, `${model}-scalar.wasm`);
  const c = spawnSync(process.execPath, [join(repo, "dist/bin/kiln.js"), "compile", join(repo, "models", model, "model.json"),
    "--target", "scalar", "-o", blobPath], { encoding: "utf8" });
  if (c.status !== 0) throw new Error(`compiling ${model} failed:\n${c.stdout}${c.stderr}`);
  const blob = readFileSync(blobPath);
  const host = await nodeSelftestOutput(Model, blob);
  const elf = buildFirmware({ buildDir: dir, target: "kiln-fw-selftest", quiet: true, defines: {
    KILN_SELFTEST_BLOB: blobPath, KILN_SELFTEST_INPUT_BYTES: host.inBytes, KILN_SELFTEST_OUTPUT_BYTES: host.outBytes } });
  const started = Date.now();
  const text = await bootSelftest(elf, 120_000);
  process.stdout.write(text.endsWith("\n") ? text : text + "\n");
  const hex = host.hex;
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
