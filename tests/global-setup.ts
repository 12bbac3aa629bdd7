// Builds dist/ (with dist/kiln-agent.mjs and dist/web/) once before the suite, so tests that spawn the CLI or the agent run the code under test.
import { spawnSync } from "node:child_process";
import { resolve } from "node:path";

export default function setup(): void {
  const root = resolve(import.meta.dirname, "..");
  const r = spawnSync(process.execPath, [resolve(root, "node_modules/typescript/bin/tsc"), "-p", "tsconfig.json"], { cwd: root, encoding: "utf8" });
  if (r.status !== 0) throw new Error(`TypeScript build failed before the tests:\n${r.stdout}${r.stderr}`);
  // The fast-loading toolchain copy (dist/toolchain/) that `kiln compile` builds with, as after `npm run build`.
  const toolchain = spawnSync(process.execPath, [resolve(root, "dist", "compiler", "toolchain-derive.js")], { cwd: root, encoding: "utf8" });
  if (toolchain.status !== 0) throw new Error(`the toolchain copy failed before the tests:\n${toolchain.stdout}${toolchain.stderr}`);
  // The one-file agent too (npm run build:agent), which the agent-bundle and emulated-Pi tests run.
  const agent = spawnSync(process.execPath, [resolve(root, "bin", "build-agent.mjs")], { cwd: root, encoding: "utf8" });
  if (agent.status !== 0) throw new Error(`npm run build:agent failed before the tests:\n${agent.stdout}${agent.stderr}`);
  // The page kiln serve serves (dist/web/), which the browser and serve tests load.
  const web = spawnSync(process.execPath, [resolve(root, "bin", "build-web.mjs")], { cwd: root, encoding: "utf8" });
  if (web.status !== 0) throw new Error(`npm run build:web failed before the tests:\n${web.stdout}${web.stderr}`);
}
