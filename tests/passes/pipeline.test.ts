// The two pipelines: their passes in order, the consistency check between passes, and `kiln compile --dump-after` for every name.
import * as tf from "@tensorflow/tfjs";
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { beforeAll, describe, expect, it } from "vitest";
import { FLOAT_PIPELINE, INT8_PIPELINE, passNames, runPipeline, type Pass } from "../../compiler/passes/pipeline.js";
import { saveLayersModel } from "../../models/save-model.js";
import { tempDir } from "../helpers.js";
import { activation, graphOf, node } from "./graph-fixture.js";

const FLOAT_NAMES = ["merge-elementwise-chains", "remove-identity", "fold-pad", "fold-batch-norm", "fuse-activation"];
const INT8_NAMES = [...FLOAT_NAMES, "fuse-pool", "quantize"];
const int8Pipeline = INT8_PIPELINE({ pixelScale: 1, pixelOffset: 0, calibrate: () => { throw new Error("not run"); } });

describe("the pipelines", () => {
  it("list every pass by name, the int8 one the float one's and then fuse-pool and quantize", () => {
    expect(passNames(FLOAT_PIPELINE)).toEqual(FLOAT_NAMES);
    expect(passNames(int8Pipeline)).toEqual(INT8_NAMES);
  });

  it("calls `after` with each pass's name and result, and with `check` names a pass that breaks the graph", () => {
    const graph = graphOf({ inputs: ["x"], outputs: ["y"], tensors: { x: activation(1, 2), y: activation(1, 2) }, nodes: [node("r", "relu", ["x"], ["y"])] });
    const seen: string[] = [];
    const out = runPipeline(graph, FLOAT_PIPELINE, { check: true, after: (name, g) => { seen.push(name); expect(g.nodes).toHaveLength(1); } });
    expect(seen).toEqual(FLOAT_NAMES);
    expect(out.nodes.map((n) => n.op)).toEqual(["relu"]);
    const breaks: Pass = { name: "breaks", run: (g) => ({ ...g, outputs: ["nowhere"] }) };
    expect(() => runPipeline(graph, [breaks], { check: true })).toThrow("after pass 'breaks': graph output 'nowhere' is never produced");
  });
});

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const CLI = join(ROOT, "dist", "bin", "kiln.js");

function kiln(...args: string[]): { status: number | null; stderr: string } {
  const r = spawnSync(process.execPath, [CLI, ...args], { cwd: ROOT, encoding: "utf8", env: { ...process.env, KILN_DEBUG: "" } });
  return { status: r.status, stderr: r.stderr };
}

/** Each node of a `--dump-after` listing as what it does: its fused ops joined by +, else its op. */
function dumpedOps(stderr: string, pass: string): string[] {
  const dump = stderr.split(`--- graph after ${pass} ---\n`)[1];
  expect(dump, stderr).toBeDefined();
  return dump.split("\n").filter((l) => /^ {2}\S+: \w+\(/.test(l)).map((l) => / fused=(\S+)$/.exec(l)?.[1] ?? /^ {2}\S+: (\w+)\(/.exec(l)![1]);
}

/** What the listing shows after each pass for the model below: every pass has something to do. */
const AFTER: Record<string, string[]> = {
  "merge-elementwise-chains": ["pad", "conv2d", "batch_norm", "relu", "max_pool", "reshape", "identity", "dense", "relu6", "dense"],
  "remove-identity": ["pad", "conv2d", "batch_norm", "relu", "max_pool", "reshape", "dense", "relu6", "dense"],
  "fold-pad": ["pad+conv2d", "batch_norm", "relu", "max_pool", "reshape", "dense", "relu6", "dense"],
  "fold-batch-norm": ["pad+conv2d+batch_norm", "relu", "max_pool", "reshape", "dense", "relu6", "dense"],
  "fuse-activation": ["pad+conv2d+batch_norm+relu", "max_pool", "reshape", "dense+relu6", "dense"],
  "fuse-pool": ["pad+conv2d+batch_norm+relu+max_pool", "reshape", "dense+relu6", "dense"],
  quantize: ["pad+conv2d+batch_norm+relu+max_pool", "reshape", "dense+relu6", "dense"],
};

describe("kiln compile --dump-after", () => {
  let model: string;

  beforeAll(async () => {
    // 28×28×1, so int8 calibrates on MNIST training digits without a --calibration argument.
    const m = tf.sequential();
    m.add(tf.layers.zeroPadding2d({ inputShape: [28, 28, 1], padding: 1 }));
    m.add(tf.layers.conv2d({ filters: 2, kernelSize: 3 }));
    m.add(tf.layers.batchNormalization());
    m.add(tf.layers.reLU());
    m.add(tf.layers.maxPooling2d({ poolSize: 2 }));
    m.add(tf.layers.flatten());
    m.add(tf.layers.dropout({ rate: 0.5 }));
    m.add(tf.layers.dense({ units: 4, activation: "relu" }));
    m.add(tf.layers.reLU({ maxValue: 6 }));
    m.add(tf.layers.dense({ units: 3 }));
    const dir = tempDir("kiln-dump-");
    await saveLayersModel(m, dir);
    model = join(dir, "model.json");
  });

  it("prints the graph after every pass of both pipelines", () => {
    // A label count that does not match stops the compile right after the passes: no toolchain build per name.
    for (const [quantize, names] of [["none", FLOAT_NAMES], ["int8", INT8_NAMES]] as const) {
      for (const pass of names) {
        const r = kiln("compile", model, "--quantize", quantize, "--calibration-count", "4", "--dump-after", pass, "--labels", "a", "-o", join(tempDir(), "m.wasm"));
        expect(r.stderr).toContain("1 labels given, but the model has 3 outputs");
        expect(dumpedOps(r.stderr, pass), `${quantize} ${pass}`).toEqual(AFTER[pass]);
      }
    }
  });

  it("prints the quantized graph and still writes the blob", () => {
    const out = join(tempDir(), "m.wasm");
    const r = kiln("compile", model, "--calibration-count", "4", "--dump-after", "quantize", "-o", out);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/const \S+#int8\[/);
    expect(r.stderr).toMatch(/ int8\.kind=producer int8\.inputZp=-?\d+ /);
    expect(existsSync(out)).toBe(true);
  });

  it("lists the pipeline's passes when the name is unknown", () => {
    const int8 = kiln("compile", model, "--dump-after", "fold-everything");
    expect(int8.status).toBe(1);
    expect(int8.stderr.trim()).toBe(`--dump-after: no pass named 'fold-everything' (passes: ${INT8_NAMES.join(", ")})`);
    const float = kiln("compile", model, "--quantize", "none", "--dump-after", "quantize");
    expect(float.stderr.trim()).toBe(`--dump-after: no pass named 'quantize' (passes: ${FLOAT_NAMES.join(", ")})`);
  });
});
