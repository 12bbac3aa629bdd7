// Locates the AssemblyScript kernel library shipped in runtime/kernels and lists what it exports.
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

export interface KernelLibrary {
  dir: string;
  /** File name (no extension) → source text. */
  sources: Map<string, string>;
  /** File name (no extension) → exported function names. */
  exports: Map<string, string[]>;
  /** Exported function name → its parameters' types, in order (e.g. ["usize", "i32", "f32"]). */
  signatures: Map<string, string[]>;
}

/** The package root, found from this file whether it runs from source (vitest) or from dist/. */
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

let cached: KernelLibrary | undefined;

export function kernelLibrary(): KernelLibrary {
  if (cached) return cached;
  const dir = join(packageRoot(), "runtime", "kernels");
  const sources = new Map<string, string>();
  const exports = new Map<string, string[]>();
  const signatures = new Map<string, string[]>();
  for (const file of readdirSync(dir).filter((f) => f.endsWith(".ts")).sort()) {
    const name = file.slice(0, -3);
    const text = readFileSync(join(dir, file), "utf8");
    sources.set(name, text);
    if (name === "index") continue;
    const found = [...text.matchAll(/^export function (\w+)\(([^)]*)\)/gm)];
    exports.set(name, found.map((m) => m[1]));
    for (const [, fn, params] of found) {
      signatures.set(fn, params.split(",").map((p) => p.trim()).filter(Boolean).map((p) => p.slice(p.indexOf(":") + 1).trim()));
    }
  }
  cached = { dir, sources, exports, signatures };
  return cached;
}
