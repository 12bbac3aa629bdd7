// The emulated Raspberry Pi made by tests/emulated-pi/setup.sh: where its arm64 Node is, and how to run a program on it.
import { existsSync, readFileSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { requireTool, type Requirement } from "../require-tool.js";

export const SETUP_SCRIPT = "tests/emulated-pi/setup.sh";

export interface EmulatedPi {
  /** qemu-aarch64-static. */
  qemu: string;
  /** The folder the arm64 packages were unpacked into (qemu's -L). */
  sysroot: string;
  /** The arm64 node binary inside the sysroot. */
  node: string;
  /** e.g. v18.20.4 */
  nodeVersion: string;
}

/** The cache folder setup.sh uses (the same rule as the script). */
export function piCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  return env.KILN_PI_CACHE || join(homedir(), ".cache", "kiln", "emulated-pi");
}

/** The emulated Pi from setup.sh's marker file, or null when it is not set up (or its files have gone). */
export function findEmulatedPi(env: NodeJS.ProcessEnv = process.env): EmulatedPi | null {
  const marker = join(piCacheDir(env), "env");
  if (!existsSync(marker)) return null;
  const values = new Map<string, string>();
  for (const line of readFileSync(marker, "utf8").split("\n")) {
    const m = /^(KILN_PI_[A-Z_]+)=(.*)$/.exec(line.trim());
    if (m) values.set(m[1], m[2]);
  }
  const pi = {
    qemu: values.get("KILN_PI_QEMU") ?? "", sysroot: values.get("KILN_PI_SYSROOT") ?? "",
    node: values.get("KILN_PI_NODE") ?? "", nodeVersion: values.get("KILN_PI_NODE_VERSION") ?? "",
  };
  return [pi.qemu, pi.sysroot, pi.node].every((p) => p !== "" && existsSync(p)) ? pi : null;
}

/** Whether the emulated-Pi tests may run: skipped with a notice naming the setup script, an error under CI=true. */
export function requireEmulatedPi(): Requirement & { pi: EmulatedPi | null } {
  const pi = findEmulatedPi();
  const what = "an emulated Raspberry Pi (qemu-aarch64-static and Debian's arm64 Node 18)";
  return { ...requireTool(what, pi !== null, `run ${SETUP_SCRIPT}`), pi };
}

/** The command line that runs the arm64 node with `args` under the emulator. */
export function emulatedNode(pi: EmulatedPi, args: string[]): { command: string; args: string[] } {
  return { command: pi.qemu, args: ["-L", pi.sysroot, pi.node, ...args] };
}
