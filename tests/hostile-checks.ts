// Test helpers for hostile model files: save a mutated fixture and expect a clean one-line KilnError from loadModel.
import { expect } from "vitest";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadModel } from "../compiler/compile.js";
import { KilnError } from "../compiler/errors.js";
import { tinyModel, writeModel, type ModelFiles } from "./hostile-models.js";

export const root = mkdtempSync(join(tmpdir(), "kiln-hostile-"));
let dirs = 0;

/** Writes the model into a fresh folder under `root`; returns its model.json path. */
export const save = (files: ModelFiles): string => writeModel(join(root, `m${dirs++}`), files);

/** A fresh folder under `root`. */
export const freshDir = (): string => join(root, `d${dirs++}`);

/** What must never show in a user-facing message. */
export const RAW_JS = /is not a function|Invalid typed array|Maximum call stack|Cannot read prop|is not iterable|undefined|\bNaN\b|\[object Object\]|Unexpected token|must be of type/;

/** Loads `path` expecting a clean KilnError: one line, naming the file, with no raw JS wording. */
export function loadError(path: string): string {
  let caught: unknown;
  try { loadModel(path); } catch (e) { caught = e; }
  expect(caught, "expected loadModel to fail").toBeInstanceOf(KilnError);
  const message = (caught as Error).message;
  expect(message).not.toContain("\n");
  expect(message).toContain(path);
  expect(message).not.toMatch(RAW_JS);
  return message;
}

/** A tiny model with one mutation applied, saved; returns its loadModel error. */
export function mutated(mutate: (files: ModelFiles) => void, base: () => ModelFiles = () => tinyModel()): string {
  const files = base();
  mutate(files);
  return loadError(save(files));
}
