// What a fuzz target is: it prepares one mutated case from its PRNG, then runs it through the code under test.
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { Rng } from "./prng.js";

export interface CaseContext {
  /** The seed corpus (read only). */
  corpus: string;
  /** An empty folder for this case's files. */
  scratch: string;
  /** The case's index (its PRNG already derives from it; only the self-test reads it). */
  index: number;
}

export interface PreparedCase {
  /** The mutations made, for the report. */
  what: string;
  /** Runs the case; resolves on success, throws what the code under test threw. */
  run(): Promise<void>;
}

export interface FuzzTarget {
  name: string;
  /** What it feeds and to what, for `--list`. */
  about: string;
  /** Time limit of one case (generous: the machine may be busy). */
  timeoutMs: number;
  prepare(rng: Rng, context: CaseContext): PreparedCase | Promise<PreparedCase>;
}

/** The files of one corpus folder, sorted (so a seed index means the same file everywhere). */
export function corpusFiles(corpus: string, folder: string): { name: string; path: string; bytes: Uint8Array }[] {
  return readdirSync(join(corpus, folder)).sort().map((name) => {
    const path = join(corpus, folder, name);
    return { name, path, bytes: new Uint8Array(readFileSync(path)) };
  });
}

export function corpusFolders(corpus: string, folder: string): string[] {
  return readdirSync(join(corpus, folder)).sort().map((name) => join(corpus, folder, name));
}
