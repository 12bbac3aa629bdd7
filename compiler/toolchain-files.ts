// Which asc and Binaryen modules a build loads: the fast-loading copy (toolchain-derive.ts) when it matches the installed package, else the package.
import { existsSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { pathToFileURL } from "node:url";
import { packageRoot } from "../runtime/package-root.js";

/** Where `npm run build` writes the copy, under the package root. */
export const DERIVED_TOOLCHAIN_DIR = "dist/toolchain";

/** What the copy was made from: it is used only while the installed packages are these versions. */
export interface DerivedToolchainStamp { assemblyscript: string; binaryen: string }

function versionIn(dir: string): string {
  return (JSON.parse(readFileSync(join(dir, "package.json"), "utf8")) as { version: string }).version;
}

/** The installed assemblyscript's version and that of the Binaryen it imports (the nearest node_modules above it). */
export function toolchainVersions(): DerivedToolchainStamp {
  const ascDir = dirname(createRequire(import.meta.url).resolve("assemblyscript/package.json"));
  const binaryenDir = packageDirAbove("binaryen", ascDir);
  return { assemblyscript: versionIn(ascDir), binaryen: binaryenDir ? versionIn(binaryenDir) : "none" };
}

/** The folder of package `name` as Node finds it from `fromDir` (the nearest node_modules above it), if any. */
export function packageDirAbove(name: string, fromDir: string): string | undefined {
  for (let dir = fromDir; ; dir = dirname(dir)) {
    const candidate = join(dir, "node_modules", name);
    if (existsSync(join(candidate, "package.json"))) return candidate;
    if (dirname(dir) === dir) return undefined;
  }
}

/** import() specifiers of asc (the command line's main), Binaryen, and the compiler asc drives. */
export interface ToolchainModules { asc: string; binaryen: string; compiler: string }

export const PACKAGE_TOOLCHAIN: ToolchainModules = { asc: "assemblyscript/asc", binaryen: "assemblyscript/binaryen", compiler: "assemblyscript" };

/** The copy in `dir` if its stamp names the installed versions; undefined otherwise (none there, or a stale one). */
export function derivedToolchainIn(dir: string): ToolchainModules | undefined {
  try {
    const stamp = JSON.parse(readFileSync(join(dir, "stamp.json"), "utf8")) as DerivedToolchainStamp;
    const installed = toolchainVersions();
    if (stamp.assemblyscript !== installed.assemblyscript || stamp.binaryen !== installed.binaryen) return undefined;
    const url = (file: string) => pathToFileURL(join(dir, file)).href;
    return { asc: url("asc.js"), binaryen: url("binaryen.js"), compiler: url("assemblyscript.js") };
  } catch {
    return undefined; // No copy (an installed package ships none), or an unreadable one.
  }
}

/**
 * The copy when it is there and this runs as compiled JavaScript; the package otherwise (from TypeScript sources
 * under vitest, whose loader would transform the copy's 1.6 MB of modules), or when KILN_TOOLCHAIN=package.
 */
export function toolchainModules(): ToolchainModules {
  if (!import.meta.url.endsWith(".js") || process.env.KILN_TOOLCHAIN === "package") return PACKAGE_TOOLCHAIN;
  return derivedToolchainIn(join(packageRoot(), DERIVED_TOOLCHAIN_DIR)) ?? PACKAGE_TOOLCHAIN;
}
