// The firmware's protocol core (firmware/src) built natively with the fake board and runtime of firmware/test/host,
// and a Link over its child process's stdio (its serial line): shared by the firmware and protocol-suite tests.
import { spawnSync, type ChildProcess } from "node:child_process";
import { join } from "node:path";
import { BaseLink } from "../firmware-host/link.js";
import { ROOT } from "./device-helpers.js";
import { tempDir } from "./helpers.js";
import { requireCommand } from "./require-tool.js";

const gcc = requireCommand("gcc", "apt-get install gcc make");
/** Whether the native build can run here, and the skip notice for a suite's title when it cannot. */
export const nativeTools = gcc.ok ? requireCommand("make", "apt-get install make") : gcc;

export const HOST_DIR = join(ROOT, "firmware", "test", "host");

/** Builds the native agent (extra CFLAGS for sanitizers or a token) into a fresh folder; returns the binary's path. */
export function buildNativeAgent(cflags?: string): string {
  const out = tempDir("kiln-fw-host-");
  const args = ["-s", "-C", HOST_DIR, `OUT=${out}`, "CC=gcc", ...(cflags === undefined ? [] : [`CFLAGS=${cflags}`])];
  const built = spawnSync("make", args, { encoding: "utf8" });
  if (built.status !== 0) throw new Error(`native firmware build failed:\n${built.stdout}${built.stderr}`);
  return join(out, "kiln-agent-host");
}

/** The native agent as a child process; its stdio is the serial line. */
export class StdioLink extends BaseLink {
  readonly description = "native firmware agent (stdio)";
  readonly exited: Promise<void>;

  constructor(readonly proc: ChildProcess) {
    super();
    proc.stdout!.on("data", (b: Buffer) => this.emitData(new Uint8Array(b)));
    this.exited = new Promise((done) => proc.once("exit", () => { this.emitClose(); done(); }));
    proc.stdin!.on("error", () => {});
  }

  write(bytes: Uint8Array): void {
    this.countOut(bytes);
    this.proc.stdin!.write(bytes);
  }

  async close(): Promise<void> {
    this.proc.stdin!.end();
    await Promise.race([this.exited, new Promise((r) => setTimeout(r, 2000))]);
    if (this.proc.exitCode === null) this.proc.kill();
    this.emitClose();
  }
}
