// Reads a blob file for code that uses Kiln as a library: the same size limit and file checks as the CLI.
import { INPUT_LIMITS, readInputFile } from "./input-file.js";

/** The bytes of a model.wasm (a regular file of at most INPUT_LIMITS.maxBlobBytes); a bad path gives an InputError. */
export function readBlobFile(path: string): Uint8Array {
  return readInputFile(path, "blob", INPUT_LIMITS.maxBlobBytes);
}
