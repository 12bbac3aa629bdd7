// Kiln's version (from package.json, or stamped into the one-file agent at build time) and the Node versions it supports.
import { readFileSync } from "node:fs";
import { SUPPORTED_NODE } from "./node-check.js";

/** Defined by bin/build-agent.mjs in the bundle, which has no package.json beside it. */
declare const KILN_BUNDLED_VERSION: string | undefined;

export function kilnVersion(): string {
  if (typeof KILN_BUNDLED_VERSION === "string") return KILN_BUNDLED_VERSION;
  // dist/bin/version.js, or bin/version.ts under vitest: package.json is two or one folder up.
  for (const up of ["../../package.json", "../package.json"]) {
    try {
      const pkg = JSON.parse(readFileSync(new URL(up, import.meta.url), "utf8")) as { name?: string; version?: string };
      if (pkg.name === "kiln" && pkg.version) return pkg.version;
    } catch { /* next */ }
  }
  return "unknown";
}

/** The line `kiln --version` prints: `kiln 0.1.0 (Node >=18; this is Node 20.20.2)`. */
export function versionLine(program = "kiln"): string {
  return `${program} ${kilnVersion()} (supports Node ${SUPPORTED_NODE}; running on Node ${process.versions.node})`;
}
