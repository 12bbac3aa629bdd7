// Finds Kiln's package root (where runtime/kernels and models/ live) from source (vitest) or from dist/ (Node only).
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

/** The folder of Kiln's package.json, found by climbing from this file whether it runs from source or from dist/. */
export function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 5; i++) {
    try {
      const pkg = JSON.parse(readFileSync(join(dir, "package.json"), "utf8")) as { name?: string };
      if (pkg.name === "kiln") return dir;
    } catch { /* keep climbing */ }
    dir = dirname(dir);
  }
  throw new Error("cannot find the kiln package root (package.json) above " + fileURLToPath(import.meta.url));
}
