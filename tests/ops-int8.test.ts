// Every image op case in int8: simd blob = scalar blob = int8 reference bit for bit, and close to TF.js float.
import { beforeAll, describe, expect, it } from "vitest";
import { OP_CASES, buildCase } from "./op-cases.js";
import { maxAbsDiff, saveToTemp, useCpuBackend } from "./helpers.js";
import { runInt8Everywhere, type Int8Run } from "./int8-harness.js";

/** Int8 error budget against float, in output quantization steps, unless a case says otherwise. */
const STEPS = 6;

beforeAll(useCpuBackend);

describe.each(OP_CASES.filter((c) => c.inputShape.length === 3))("int8: $name", (opCase) => {
  let run: Int8Run;
  beforeAll(async () => {
    const model = buildCase(opCase);
    run = await runInt8Everywhere(model, await saveToTemp(model), opCase.inputShape);
  });

  it("simd and scalar blobs equal the int8 reference bit for bit", () => {
    run.reference.forEach((ref, i) => {
      expect(Array.from(run.simd[i])).toEqual(Array.from(ref));
      expect(Array.from(run.scalar[i])).toEqual(Array.from(ref));
    });
  });

  const steps = opCase.int8Steps ?? STEPS;
  it(`dequantized output is within ${steps} quantization steps of TF.js float`, () => {
    run.float.forEach((f, i) => expect(maxAbsDiff(run.dequantized[i], f)).toBeLessThanOrEqual(steps * run.outputScale));
  });
});
