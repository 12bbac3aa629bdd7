// Tests that need something outside Node (a system tool, a data set): skip with a notice naming it, fail under CI=true.
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";

export interface Requirement {
  /** True when the tests may run. */
  readonly ok: boolean;
  /** "" when present; otherwise " (skipped: needs socat — apt-get install socat)", to append to a describe title. */
  readonly note: string;
}

/** True when `command` is on PATH and runs (`args` is a harmless probe such as a version flag). */
export function hasCommand(command: string, args: string[] = ["--version"]): boolean {
  const r = spawnSync(command, args, { stdio: "ignore", timeout: 10_000 });
  return r.error === undefined && r.status === 0;
}

/**
 * Whether tests that need `what` may run. When it is missing they skip with a visible notice naming it and how to
 * install it; under CI=true (CI installs everything, see .ci/run) a missing requirement is an error, never a skip.
 */
export function requireTool(what: string, present: boolean, install: string): Requirement {
  if (present) return { ok: true, note: "" };
  if (process.env.CI === "true") {
    throw new Error(`${what} is missing, and under CI=true a missing tool fails the tests instead of skipping them (install it: ${install})`);
  }
  const note = `skipped: needs ${what} (${install})`;
  console.warn(note);
  return { ok: false, note: ` (${note})` };
}

/** A system command, e.g. requireCommand("socat", "apt-get install socat", ["-V"]). */
export function requireCommand(command: string, install: string, probe?: string[]): Requirement {
  return requireTool(command, hasCommand(command, probe), install);
}

/** A file or folder installed by a system package, e.g. a data set. */
export function requirePath(what: string, path: string | undefined, install: string): Requirement {
  return requireTool(what, path !== undefined && existsSync(path), install);
}

/** What building the board firmware and booting it in QEMU needs (tests that run firmware on the emulated board). */
export function requireFirmwareTools(): Requirement[] {
  return [
    requireCommand("qemu-system-arm", "apt-get install qemu-system-arm"),
    requireCommand("arm-none-eabi-gcc", "apt-get install gcc-arm-none-eabi libnewlib-arm-none-eabi"),
    requirePath("newlib for arm-none-eabi", "/usr/lib/arm-none-eabi/newlib", "apt-get install libnewlib-arm-none-eabi"),
    requireCommand("cmake", "apt-get install cmake"),
    requireCommand("make", "apt-get install make"),
  ];
}
