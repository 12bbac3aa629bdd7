// A mixed-precision scalar blob (LeNet-5 with conv2 and the float-output logits kept in float) on the emulated Cortex-M4
// board (QEMU mps2-an386, WAMR's interpreter, no SIMD): deployed and evaluated there, outputs equal to the host's run.
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mnistPaths } from "../io/idx.js";
import { waitFor } from "./device-relay.js";
import { kiln, ROOT, spawnProcess, type Spawned } from "./device-helpers.js";
import { tempDir } from "./helpers.js";
import { requireFirmwareTools } from "./require-tool.js";

const tools = requireFirmwareTools();
const ready = tools.every((t) => t.ok);
const IMAGES = 20;

let board: Spawned | undefined;
let device = "";
let blob = "";

beforeAll(async () => {
  if (!ready) return;
  const dir = tempDir();
  // A firmware of its own (board.test.ts builds firmware/build; both may run at once).
  const build = spawnSync(process.execPath, ["--input-type=module", "-e",
    "const { buildFirmware } = await import('./firmware/build.mjs'); buildFirmware({ buildDir: process.argv[1], quiet: true });", join(dir, "fw")],
  { cwd: ROOT, encoding: "utf8" });
  if (build.status !== 0) throw new Error(`the firmware build failed: ${build.stderr}`);
  blob = join(dir, "lenet5-mixed.wasm");
  const compiled = await kiln(["compile", join(ROOT, "models", "lenet5", "model.json"), "--target", "scalar", "--keep-float", "conv2,logits", "-o", blob, "-q"], 300_000);
  if (compiled.status !== 0) throw new Error(`kiln compile failed: ${compiled.stderr}`);
  board = spawnProcess(process.execPath, [join(ROOT, "dist", "bin", "kiln.js"), "board", "start", "--elf", join(dir, "fw", "kiln-fw.elf")]);
  await waitFor(() => /^serial:\S+/.test(board!.stdout()) || board!.proc.exitCode !== null, 30_000, "the board to start");
  device = /^(serial:\S+)/.exec(board.stdout())?.[1] ?? "";
  if (!device) throw new Error(`kiln board start: ${board.stderr()}`);
}, 600_000);

afterAll(async () => { await board?.stop(); });

describe.skipIf(!ready)(`a mixed-precision blob on the emulated board${tools.map((t) => t.note).join("")}`, () => {
  it(`runs there with a float32 output equal to the host's on ${IMAGES} digits`, async () => {
    const paths = mnistPaths();
    const r = await kiln(["bench", blob, "--device", device, "--runs", "1", "--warmup", "0", "--link-runs", "1",
      "--images", paths.testImages, "--labels", paths.testLabels, "--count", String(IMAGES)], 900_000);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/\n2 +conv2 +conv2d\+relu\+max_pool +conv_exact_f64 /);
    expect(r.stdout).toContain(`device outputs equal the host's run of the same blob on all ${IMAGES} images`);
  }, 900_000);
});
