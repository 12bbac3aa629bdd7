// ONNX's own node tests (Debian's libonnx-testdata) for every op the ONNX frontend supports, through Kiln's float path.
//
// Each test either passes (the float reference and the float blob within 1e-4 of ONNX's expected output, scaled by
// max(1, |expected|)) or is refused with a clean one-line KilnError (batch > 1, a rank Kiln's op does not take, an
// attribute it does not support…). A wrong result, a raw JavaScript error or a wrapped internal one fails the test.
// The per-op table of passes and refusals is printed (the README quotes it).
import { afterAll, describe, expect, it } from "vitest";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { compileGraph, DEFAULT_COMPILE_OPTIONS } from "../compiler/compile.js";
import { loadOnnxModel } from "../compiler/frontends/onnx/index.js";
import { SUPPORTED_ONNX_OPS } from "../compiler/frontends/onnx/lower.js";
import { Model } from "../runtime/model.js";
import { requirePath } from "./require-tool.js";
import { hasNodeTests, NODE_TEST_ROOT, nodeTestsFor, TESTDATA_INSTALL, type NodeTest } from "./onnx-testdata.js";
import { runNodeTest, scaledMaxDiff, TOLERANCE, viewableAsRow, type Outcome } from "./onnx-conformance-run.js";

const testdata = requirePath("libonnx-testdata (ONNX's node tests)", hasNodeTests() ? NODE_TEST_ROOT : undefined, TESTDATA_INSTALL);

interface Row { op: string; tests: number; pass: number; reject: number; fail: number; rowPass: number; rowTried: number }

function table(rows: Row[]): string {
  const lines = ["| ONNX op | node tests | pass | refused | refused, then passed as [1, N] |", "|---|---:|---:|---:|---:|"];
  for (const r of rows) lines.push(`| ${r.op} | ${r.tests} | ${r.pass} | ${r.reject} | ${r.rowTried ? `${r.rowPass} of ${r.rowTried}` : ""} |`);
  const sum = (k: keyof Omit<Row, "op">): number => rows.reduce((a, r) => a + r[k], 0);
  lines.push(`| **all** | ${sum("tests")} | ${sum("pass")} | ${sum("reject")} | ${sum("rowPass")} of ${sum("rowTried")} |`);
  return lines.join("\n");
}

describe.skipIf(!testdata.ok)(`ONNX node tests through Kiln's float path${testdata.note}`, () => {
  const dir = mkdtempSync(join(tmpdir(), "kiln-onnx-conformance-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const tests = testdata.ok ? nodeTestsFor(SUPPORTED_ONNX_OPS) : [];
  const outcomes = new Map<NodeTest, Outcome>();
  const rowOutcomes = new Map<NodeTest, Outcome>();

  it("finds the node tests of the supported ops", () => {
    // libonnx-testdata 1.12 has node tests for most of them; an empty list would make everything below vacuous.
    expect(tests.length).toBeGreaterThan(100);
    for (const op of ["Conv", "Gemm", "MaxPool", "AveragePool", "Relu", "Softmax", "BatchNormalization", "Reshape"]) {
      expect(tests.some((t) => t.opTypes[0] === op), op).toBe(true);
    }
  });

  it("gives ONNX's expected output (float reference) or a clean refusal, never a wrong result or a raw error", () => {
    for (const test of tests) {
      const plain = runNodeTest(test, join(dir, "models"), loadOnnxModel);
      outcomes.set(test, plain);
      // An element-wise op's test refused for its shape runs again on the same values viewed as one row [1, N].
      if (plain.kind === "reject" && viewableAsRow(test)) rowOutcomes.set(test, runNodeTest(test, join(dir, "rows"), loadOnnxModel, true));
    }
    const all = [...outcomes, ...[...rowOutcomes].map(([t, o]): [NodeTest, Outcome] => [{ ...t, name: `${t.name} (as [1, N])` }, o])];
    const failures = all.filter(([, o]) => o.kind === "fail").map(([t, o]) => `${t.name}: ${(o as { why: string }).why}`);
    const rows: Row[] = [...new Set(tests.map((t) => t.opTypes[0]))].sort().map((op) => {
      const mine = [...outcomes].filter(([t]) => t.opTypes[0] === op).map(([, o]) => o.kind);
      const asRow = [...rowOutcomes].filter(([t]) => t.opTypes[0] === op).map(([, o]) => o.kind);
      return {
        op, tests: mine.length, pass: mine.filter((k) => k === "pass").length, reject: mine.filter((k) => k === "reject").length,
        fail: mine.filter((k) => k === "fail").length, rowPass: asRow.filter((k) => k === "pass").length, rowTried: asRow.length,
      };
    });
    console.log(`ONNX node tests (${NODE_TEST_ROOT}), float path, tolerance ${TOLERANCE} × max(1, |expected|):\n${table(rows)}`);
    console.log(all.filter(([, o]) => o.kind === "reject").map(([t, o]) => `  refused ${t.name}: ${(o as { message: string }).message}`).join("\n"));
    expect(failures).toEqual([]);
    // Refusing everything would pass the line above: the image ops' tests (batch 1, NCHW) must actually run.
    expect([...outcomes.values()].filter((o) => o.kind === "pass").length).toBeGreaterThanOrEqual(30);
    for (const op of ["Conv", "MaxPool", "AveragePool", "GlobalAveragePool", "GlobalMaxPool"]) {
      expect(rows.find((r) => r.op === op)?.pass, op).toBeGreaterThan(0);
    }
  });

  it("the float blob agrees with ONNX's expected output on every test the reference passes", async () => {
    const passed = [...outcomes, ...rowOutcomes].filter((e): e is [NodeTest, Extract<Outcome, { kind: "pass" }>] => e[1].kind === "pass");
    expect(passed.length).toBeGreaterThan(0);
    const wrong: string[] = [];
    for (const [test, o] of passed) {
      const label = rowOutcomes.get(test) === o ? `${test.name} (as [1, N])` : test.name;
      const compiled = await compileGraph(o.graph, { ...DEFAULT_COMPILE_OPTIONS, quantize: "none" });
      const model = await Model.load(compiled.wasm);
      model.predict(o.input);
      const diff = scaledMaxDiff(model.rawOutput(), o.expected);
      if (!(diff <= TOLERANCE)) wrong.push(`${label}: max scaled |difference| ${diff}`);
    }
    expect(wrong).toEqual([]);
  });
});
