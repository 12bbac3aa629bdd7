// Builds dist/ once before the suite, so tests that spawn the CLI run the code under test.
import { spawnSync } from "node:child_process";
import { resolve } from "node:path";

export default function setup(): void {
  const root = resolve(import.meta.dirname, "..");
  const r = spawnSync(process.execPath, [resolve(root, "node_modules/typescript/bin/tsc"), "-p", "tsconfig.json"], { cwd: root, encoding: "utf8" });
  if (r.status !== 0) throw new Error(`TypeScript build failed before the tests:\n${r.stdout}${r.stderr}`);
}
