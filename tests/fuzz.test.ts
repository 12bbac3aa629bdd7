// The fuzzers in npm test: a few hundred seeded cases over every loader and parser, each of which must end in success
// or a one-line Kiln error within its time and memory limits; and the harness itself must catch every kind of failure.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { KilnError } from "../compiler/errors.js";
import { BlobError } from "../runtime/model.js";
import { DeviceError } from "../firmware-host/errors.js";
import { judge } from "./fuzz/oracle.js";
import { runCases } from "./fuzz/pool.js";
import { failureReport, runFuzz, summaryTable } from "./fuzz/run.js";
import { SELF_TEST_CASES } from "./fuzz/self-test.js";
import { TARGETS } from "./fuzz/targets.js";

/** Fixed, so a failure here is reproduced by `npm run fuzz -- --seed 1 --target T --case I` (printed with it). */
const SEED = 1;
const CASES = 320;

describe("the oracle", () => {
  it("takes one-line Kiln errors as clean, and raw JS errors, multi-line messages and non-errors as failures", () => {
    expect(judge(new KilnError("model.json: layer 'conv' has pool_size 1.5; expected a whole number")).verdict).toBe("clean");
    expect(judge(new BlobError("not a Kiln blob: no kiln.manifest custom section")).verdict).toBe("clean");
    expect(judge(new DeviceError("RUN", 12, 0, "input of 3 bytes; the model takes 784")).verdict).toBe("clean");
    expect(judge(new TypeError("Cannot read properties of undefined (reading 'shape')")).verdict).toBe("crash");
    expect(judge(new RangeError("Maximum call stack size exceeded")).verdict).toBe("crash");
    expect(judge(new Error("x.png: cannot decode PNG: invalid signature")).verdict).toBe("crash");
    expect(judge(new KilnError("asc failed:\nERROR TS1005: ';' expected.")).verdict).toBe("stack");
    expect(judge("a string").verdict).toBe("crash");
  });
});

describe("the worker pool", () => {
  const tmp = mkdtempSync(join(tmpdir(), "kiln-fuzz-self-"));
  afterAll(() => rmSync(tmp, { recursive: true, force: true }));

  it("reports successes, clean errors, crashes, stack traces, hangs, heap and process-memory blow-ups and stray rejections, and keeps going", async () => {
    const specs = SELF_TEST_CASES.map((kind, index) => ({ target: "self-test", seed: SEED, index, timeoutMs: kind === "hang" ? 3000 : 30_000 }));
    const results = await runCases(specs, { workers: 2, heapMb: 128, rssMb: 1500, setup: { corpus: tmp, tmp, keep: false } });
    const verdicts = Object.fromEntries(results.map((r) => [SELF_TEST_CASES[r.index], r.verdict]));
    expect(verdicts).toEqual({ success: "success", clean: "clean", crash: "crash", stack: "stack", hang: "hang", heap: "memory", rss: "memory", stray: "crash" });
  });
});

describe("fuzzing every loader and parser", () => {
  it(`${CASES} cases (seed ${SEED}) over ${TARGETS.map((t) => t.name).join(", ")}: each a success or a one-line Kiln error`, async () => {
    const run = await runFuzz({ cases: CASES, seed: SEED, workers: 2 });
    console.log(`fuzz: seed ${SEED}, ${run.results.length} cases in ${run.seconds.toFixed(0)} s\n${summaryTable(run.results)}`);
    expect(run.results.length).toBeGreaterThanOrEqual(CASES);
    for (const t of TARGETS) expect(run.results.filter((r) => r.target === t.name).length).toBe(CASES / TARGETS.length);
    expect(run.failures.length, `distinct failures:\n${failureReport(run.failures)}`).toBe(0);
  }, 600_000);
});
