// Locates the AssemblyScript kernel library shipped in runtime/kernels and lists what it exports.
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { packageRoot } from "../../runtime/package-root.js";

export interface KernelLibrary {
  dir: string;
  /** File name (no extension) → source text. */
  sources: Map<string, string>;
  /** File name (no extension) → exported function names. */
  exports: Map<string, string[]>;
  /** Exported function name → its parameters' types, in order (e.g. ["usize", "i32", "f32"]). */
  signatures: Map<string, string[]>;
}

let cached: KernelLibrary | undefined;

/** The library's functions that a layer's generated statements call, in the order they are called. */
export function kernelsCalled(code: string, library: KernelLibrary): string[] {
  const known = new Set(library.signatures.keys());
  return [...code.matchAll(/\b([a-z_][a-z0-9_]*)\(/g)].map((m) => m[1]).filter((name) => known.has(name));
}

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
