// The one-file agent as a child process on some Node (the emulated Pi's arm64 Node, or a native one): start it, time
// its cold start to the "serving" line, read its resident memory, stop it.
import { spawn } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { basename, dirname, join, resolve } from "node:path";
import { emulatedNode, type EmulatedPi } from "./emulator.js";

/** The repository: the agent runs from here, so that `serialport` resolves from its node_modules next to dist/. */
export const ROOT = ((up) => (basename(up) === "dist" ? dirname(up) : up))(resolve(import.meta.dirname, "..", ".."));

/** What `npm run build:agent` writes: the file a Pi user copies. */
export const AGENT_BUNDLE = join(ROOT, "dist", "kiln-agent.mjs");

/** A Node to run the agent on: `command prefix… kiln-agent.mjs args…`. */
export interface NodeRunner {
  label: string;
  command: string;
  prefix: string[];
}

export function piRunner(pi: EmulatedPi): NodeRunner {
  const { command, args } = emulatedNode(pi, []);
  return { label: `arm64 node ${pi.nodeVersion} under qemu-aarch64`, command, prefix: args };
}

export function nativeRunner(node = process.execPath, label = `x86-64 node ${process.version}`): NodeRunner {
  return { label, command: node, prefix: [] };
}

export interface RunningAgent {
  pid: number;
  /** "tcp 127.0.0.1:40123" or "serial /tmp/…/D" as the agent says it. */
  where: string;
  port: number;
  /** Milliseconds from spawning the process to its "serving" line. */
  coldStartMs: number;
  stdout(): string;
  stderr(): string;
  exited: Promise<number | null>;
  /** SIGTERM (or `signal`), then waits for the exit; SIGKILL if it lingers. */
  stop(signal?: NodeJS.Signals): Promise<void>;
}

/**
 * Starts `node kiln-agent.mjs args…` with `env` added to this process's environment (the token travels as
 * KILN_TOKEN, never on the command line) and waits for its "serving" line.
 */
export async function startAgentOn(runner: NodeRunner, args: string[], env: Record<string, string> = {}, timeoutMs = 120_000): Promise<RunningAgent> {
  if (!existsSync(AGENT_BUNDLE)) throw new Error(`${AGENT_BUNDLE} is missing: run npm run build:agent (npm run build makes it too)`);
  const childEnv: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: "1", KILN_DEBUG: "", ...env };
  // Options meant for the test runner's Node (a loader, a newer flag) are not for the agent's Node.
  delete childEnv.NODE_OPTIONS;
  const started = performance.now();
  const proc = spawn(runner.command, [...runner.prefix, AGENT_BUNDLE, ...args], { cwd: ROOT, env: childEnv, stdio: ["ignore", "pipe", "pipe"] });
  let out = "", err = "", servingAt = 0;
  proc.stdout.on("data", (d: Buffer) => {
    out += d.toString();
    if (!servingAt && /serving /.test(out)) servingAt = performance.now();
  });
  proc.stderr.on("data", (d: Buffer) => { err += d.toString(); });
  const exited = new Promise<number | null>((done) => proc.once("exit", (code) => done(code)));
  let code: number | null | undefined;
  void exited.then((c) => { code = c; });
  const stop = async (signal: NodeJS.Signals = "SIGTERM"): Promise<void> => {
    if (proc.exitCode !== null || proc.signalCode !== null) return;
    proc.kill(signal);
    const timer = setTimeout(() => proc.kill("SIGKILL"), 15_000);
    await exited;
    clearTimeout(timer);
  };
  try {
    await waitFor(() => servingAt > 0 || code !== undefined, timeoutMs, `the agent on ${runner.label} to start`);
  } catch (e) {
    await stop("SIGKILL");
    throw new Error(`${(e as Error).message}; its output: ${out}${err}`);
  }
  if (!servingAt) throw new Error(`the agent on ${runner.label} exited with ${code}: ${out}${err}`);
  const where = /serving (.*?), store/.exec(out)?.[1] ?? "";
  return {
    pid: proc.pid as number, where, port: Number(/:(\d+)$/.exec(where)?.[1] ?? 0), coldStartMs: servingAt - started,
    stdout: () => out, stderr: () => err, exited, stop,
  };
}

async function waitFor(condition: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const end = performance.now() + timeoutMs;
  while (!condition()) {
    if (performance.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/**
 * VmRSS of a process in KiB (Linux), or null when it is gone. Under qemu-user the process is the emulator: its RSS
 * holds the guest's memory plus QEMU's own (translated code, its heap), so it is an upper bound for a real Pi.
 */
export function residentKiB(pid: number): number | null {
  try {
    const m = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return m ? Number(m[1]) : null;
  } catch {
    return null;
  }
}
