// What the CLI prints (issue 11): numeric options validated against stated ranges, control characters from files and devices escaped.
import { describe, expect, it } from "vitest";
import { spawn } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { UsageError } from "../compiler/errors.js";
import { parseArgs, type CommandSpec } from "../bin/args.js";
import { escapeControl, terminalSafe } from "../bin/terminal.js";
import { compileSpec } from "../bin/commands/compile.js";
import { runSpec } from "../bin/commands/run.js";
import { inspectSpec } from "../bin/commands/inspect.js";
import { evalSpec } from "../bin/commands/eval.js";
import { profileSpec } from "../bin/commands/profile.js";
import { deploySpec } from "../bin/commands/deploy.js";
import { benchSpec } from "../bin/commands/bench.js";
import { agentSpec } from "../bin/commands/agent.js";
import { demoSpec } from "../bin/commands/demo.js";
import { CLI, CONTROL, expectOneLineError, HOSTILE_LABELS, useHostileFixture, idxBytes, kiln, ROOT } from "./hostile-input-helpers.js";

const at = useHostileFixture("kiln-hostile-output-");

describe("numeric options are validated: whole numbers where meant, in a stated range", () => {
  const specs: CommandSpec[] = [compileSpec, runSpec, inspectSpec, evalSpec, profileSpec, deploySpec, benchSpec, agentSpec, demoSpec];

  it("every numeric option of every command declares its range", () => {
    for (const spec of specs) {
      for (const [name, o] of Object.entries(spec.options)) {
        if (o.type !== "number") continue;
        expect(o.min, `kiln ${spec.name} --${name}`).toBeTypeOf("number");
        expect(o.max, `kiln ${spec.name} --${name}`).toBeTypeOf("number");
      }
    }
  });

  it("refuses fractions, NaN, infinities, empty values and values out of range, naming the option and its range", () => {
    for (const spec of specs) {
      for (const [name, o] of Object.entries(spec.options)) {
        if (o.type !== "number") continue;
        const bad = ["NaN", "Infinity", "", " ", "12abc", String(o.min! - 1), String(o.max! + 1), ...(o.integer ? ["2.5"] : [])];
        for (const value of bad) {
          let caught: unknown;
          try { parseArgs(spec, [`--${name}`, value]); } catch (e) { caught = e; }
          expect(caught, `kiln ${spec.name} --${name} '${value}'`).toBeInstanceOf(UsageError);
          const message = (caught as Error).message;
          expect(message).toContain(`--${name}`);
          expect(message).toContain(o.min!.toLocaleString("en-US"));
        }
        expect(parseArgs(spec, [`--${name}=${o.max}`]).options[name]).toBe(o.max);
        expect(parseArgs(spec, [`--${name}`, String(o.min)]).options[name]).toBe(o.min);
      }
    }
  });

  it("--help states each numeric option's range", async () => {
    const help = await kiln(["profile", "--help"]);
    expect(help.stdout).toMatch(/--runs <n> +timed runs \(default: 200; a whole number from 1 to 1,000,000\)/);
  });

  it("kiln eval --count 2.5 and --count 0 are usage errors, not 120 % or NaN % accuracy", async () => {
    for (const count of ["2.5", "0"]) {
      const line = expectOneLineError(await kiln(["eval", at("small.wasm"), "--images", "x", "--labels", "y", "--count", count]), 2, "--count");
      expect(line).toContain(count);
      expect(line).toMatch(/whole number/);
    }
  });
});
describe("control characters from files and devices are escaped before they reach the terminal", () => {
  it("escapes C0, DEL, C1 and bidi controls as \\uXXXX and leaves printable Unicode alone", () => {
    expect(escapeControl("\x1b[2Jzero")).toBe("\\u001b[2Jzero");
    expect(escapeControl("a\tb\nc\rd\x07\x7f\x9b\u202e\u2066\u200f")).toBe("a\\u0009b\\u000ac\\u000dd\\u0007\\u007f\\u009b\\u202e\\u2066\\u200f");
    expect(escapeControl("Größe 数字 😀 →")).toBe("Größe 数字 😀 →");
  });

  it("at the output sink, keeps Kiln's newlines and (only when colour is on) Kiln's own colour codes", () => {
    const line = "\x1b[1mbold\x1b[0m\nnext \x1b[2J\x1b[8mhidden\x07";
    expect(terminalSafe(line, true)).toBe("\x1b[1mbold\x1b[0m\nnext \\u001b[2J\\u001b[8mhidden\\u0007");
    expect(terminalSafe(line, false)).toBe("\\u001b[1mbold\\u001b[0m\nnext \\u001b[2J\\u001b[8mhidden\\u0007");
  });

  it("kiln inspect and kiln profile print hostile model and layer names escaped", async () => {
    // Names come from model.json: the layer "conv" and its weights, and the model "small", rewritten in the file.
    const json = readFileSync(join(at("model"), "model.json"), "utf8")
      .replaceAll('"conv', '"\\u001b[2Jconv\\u202e').replaceAll('"small"', '"sm\\u001b]0;title\\u0007all"');
    mkdirSync(at("named"));
    writeFileSync(join(at("named"), "model.json"), json);
    writeFileSync(join(at("named"), "group1-shard1of1.bin"), readFileSync(join(at("model"), "group1-shard1of1.bin")));
    const compiled = await kiln(["compile", join(at("named"), "model.json"), "--quantize", "none", "-o", at("named.wasm"), "--quiet"]);
    expect(compiled.status, compiled.stderr).toBe(0);
    const inspect = await kiln(["inspect", at("named.wasm")]);
    expect(inspect.status, inspect.stderr).toBe(0);
    expect(inspect.stdout).not.toMatch(CONTROL);
    expect(inspect.stdout).toContain("model sm\\u001b]0;title\\u0007all ");
    expect(inspect.stdout).toMatch(/^0 +\\u001b\[2Jconv\\u202e +conv2d/m);
    const profile = await kiln(["profile", at("named.wasm"), "--runs", "3", "--warmup", "1"]);
    expect(profile.status, profile.stderr).toBe(0);
    expect(profile.stdout).not.toMatch(CONTROL);
    expect(profile.stdout).toMatch(/^0 +\\u001b\[2Jconv\\u202e +conv2d/m);
    expect(profile.stdout).toContain("sm\\u001b]0;title\\u0007all, float32");
    const asJson = await kiln(["profile", at("named.wasm"), "--runs", "3", "--warmup", "1", "--json"]);
    expect((JSON.parse(asJson.stdout) as { layers: { name: string }[] }).layers[0].name).toBe("\x1b[2Jconv\u202e");
  });

  it("kiln run and kiln inspect print hostile labels escaped; --json keeps them exact", async () => {
    const run = await kiln(["run", at("small.wasm"), "--input", at("digit.png"), "--top", "3"]);
    expect(run.status, run.stderr).toBe(0);
    expect(run.stdout).not.toMatch(CONTROL);
    for (const label of ["\\u001b[2Jzero", "\\u202eone", "two\\u0007\\u009b31m"]) expect(run.stdout).toContain(label);
    const json = await kiln(["run", at("small.wasm"), "--input", at("digit.png"), "--top", "3", "--json"]);
    expect(json.stdout).not.toMatch(CONTROL);
    const top = (JSON.parse(json.stdout) as { top: { label: string }[] }).top.map((t) => t.label).sort();
    expect(top).toEqual([...HOSTILE_LABELS].sort());
    const inspect = await kiln(["inspect", at("small.wasm")]);
    expect(inspect.status, inspect.stderr).toBe(0);
    expect(inspect.stdout).not.toMatch(CONTROL);
    expect(inspect.stdout).toContain("labels \\u001b[2Jzero, \\u202eone, two\\u0007\\u009b31m");
  });

  it("kiln eval prints the confusion matrix with escaped labels", async () => {
    const pixels = new Uint8Array(4 * 64).map((_, i) => (i * 13) % 256);
    writeFileSync(at("four-idx3-ubyte"), idxBytes([4, 8, 8], pixels));
    writeFileSync(at("four-idx1-ubyte"), idxBytes([4], new Uint8Array([0, 1, 2, 1])));
    const r = await kiln(["eval", at("small.wasm"), "--images", at("four-idx3-ubyte"), "--labels", at("four-idx1-ubyte")]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).not.toMatch(CONTROL);
    expect(r.stdout).toContain("\\u001b[2Jzero");
    expect(r.stdout).toMatch(/on 4 images/);
  });

  it("kiln deploy prints a device name and model name full of escapes harmlessly", async () => {
    const agent = spawn(process.execPath, [CLI, "agent", "--tcp", ":0", "--token", "t0ken", "--store", at("store"),
      "--name", "\x1b]0;pwned\x07dev\u202e"], { cwd: ROOT, env: { ...process.env, KILN_DEBUG: "" } });
    try {
      const port = await new Promise<number>((resolve, reject) => {
        let out = "";
        agent.stdout.setEncoding("utf8").on("data", (d: string) => {
          out += d;
          const m = /127\.0\.0\.1:(\d+)/.exec(out);
          if (m) resolve(Number(m[1]));
        });
        agent.on("close", () => reject(new Error(`the agent exited: ${out}`)));
      });
      const r = await kiln(["deploy", at("small.wasm"), "--device", `tcp://127.0.0.1:${port}?token=t0ken`]);
      expect(r.status, r.stderr).toBe(0);
      expect(r.stdout + r.stderr).not.toMatch(CONTROL);
      expect(r.stdout).toContain("device \\u001b]0;pwned\\u0007dev\\u202e at");
    } finally {
      agent.kill("SIGTERM");
    }
  });
});
