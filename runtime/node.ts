// Node-only helpers around the runtime core: load a blob from a path with a clear error.
import { existsSync, readFileSync } from "node:fs";
import { Model } from "./model.js";

export async function loadModelFile(path: string): Promise<Model> {
  if (!existsSync(path)) throw new Error(`${path}: file not found`);
  try {
    return await Model.load(new Uint8Array(readFileSync(path)));
  } catch (e) {
    throw new Error(`${path}: ${(e as Error).message}`);
  }
}
