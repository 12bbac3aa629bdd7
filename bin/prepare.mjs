#!/usr/bin/env node
// npm's prepare step: builds dist/ when the TypeScript compiler (a devDependency) is installed, and otherwise says why
// it skipped, so `npm install --omit=dev` works (an installed package already carries dist/).
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const require = createRequire(resolve(root, "package.json"));
const has = (name) => { try { require.resolve(`${name}/package.json`); return true; } catch { return false; } };

const missing = ["typescript", "esbuild"].filter((name) => !has(name));
if (missing.length > 0) {
  const built = existsSync(resolve(root, "dist/bin/kiln.js")) ? "using the dist/ already there" : "dist/ is missing: install the devDependencies (npm install) to build it";
  console.log(`kiln prepare: skipped the build, ${missing.join(" and ")} (devDependencies) not installed; ${built}`);
  process.exit(0);
}
const npm = process.env.npm_execpath;
const r = npm
  ? spawnSync(process.execPath, [npm, "run", "build"], { cwd: root, stdio: "inherit" })
  : spawnSync("npm", ["run", "build"], { cwd: root, stdio: "inherit", shell: process.platform === "win32" });
process.exit(r.status ?? 1);
