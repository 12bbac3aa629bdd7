// The emulated board: boots the Kiln firmware on QEMU's mps2-an386 (Cortex-M4) with its UART on a pty.
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, statSync } from "node:fs";
import { resolve } from "node:path";

/** Where `npm run firmware` puts the firmware. */
export const DEFAULT_ELF = "firmware/build/kiln-fw.elf";
export const QEMU = "qemu-system-arm";
export const BOARD_MACHINE = "mps2-an386";
/** The baud rate the URI states; a pty ignores it, but the host's serial port wants one. */
export const BOARD_BAUD = 115200;
/** QEMU prints the pty within milliseconds; this only bounds a QEMU that hangs before it. */
const START_TIMEOUT_MS = 15_000;
/** Output kept for error messages: the start of QEMU's output says what went wrong, the rest is the board's noise. */
const MAX_OUTPUT = 16 * 1024;

export interface BoardOptions {
  /** The firmware ELF (default firmware/build/kiln-fw.elf, relative to the working directory). */
  elf?: string;
  /** `-icount shift=5`: one instruction = 32 ns of virtual time, so cycle counts repeat from run to run. */
  icount?: boolean;
  /** The QEMU binary (default qemu-system-arm on PATH). */
  qemu?: string;
  /** Called with every piece of QEMU's output (its own messages; the board's UART is on the pty). */
  onOutput?: (text: string) => void;
}

export interface Board {
  /** The device URI for kiln deploy/bench: serial:/dev/pts/N?baud=115200. */
  readonly uri: string;
  readonly ptyPath: string;
  /** The QEMU command line, for messages. */
  readonly command: string[];
  readonly process: ChildProcess;
  /** Resolves when QEMU exits (by stop() or by itself) with its exit code or signal. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** QEMU's own output so far (at most 16 KB). */
  output(): string;
  /** Stops QEMU (SIGTERM, then SIGKILL after 2 s) and waits for it to exit. */
  stop(): Promise<void>;
}

/** The board could not start: QEMU or the firmware is missing, or QEMU failed. */
export class BoardError extends Error {
  override name = "BoardError";
}

/** QEMU's line naming the pty of serial0 (the board's UART0). */
const PTY_LINE = /char device redirected to (\/dev\/[^\s()]+) \(label serial0\)/;

export function qemuArgs(elf: string, icount: boolean): string[] {
  return ["-M", BOARD_MACHINE, "-nographic", "-monitor", "none", "-kernel", elf, "-serial", "pty", ...(icount ? ["-icount", "shift=5"] : [])];
}

/** Boots the firmware and resolves once QEMU has said which pty carries the board's UART. */
export async function startBoard(options: BoardOptions = {}): Promise<Board> {
  const elf = resolve(options.elf ?? DEFAULT_ELF);
  const qemu = options.qemu ?? QEMU;
  if (!existsSync(elf)) {
    throw new BoardError(`${options.elf ?? DEFAULT_ELF}: firmware not found; build it with 'npm run firmware' (needs gcc-arm-none-eabi, libnewlib-arm-none-eabi and cmake)`);
  }
  if (!statSync(elf).isFile()) throw new BoardError(`${options.elf ?? DEFAULT_ELF}: not a file`);
  const args = qemuArgs(elf, Boolean(options.icount));
  const proc = spawn(qemu, args, { stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((done) => {
    proc.once("exit", (code, signal) => done({ code, signal }));
    proc.once("error", () => done({ code: null, signal: null }));
  });
  const ptyPath = await new Promise<string>((resolvePty, reject) => {
    const timer = setTimeout(() => {
      proc.kill("SIGKILL");
      reject(new BoardError(`${qemu} printed no pty within ${START_TIMEOUT_MS / 1000} s${output ? `: ${output.trim()}` : ""}`));
    }, START_TIMEOUT_MS);
    const onText = (chunk: Buffer): void => {
      const text = chunk.toString();
      if (output.length < MAX_OUTPUT) output += text.slice(0, MAX_OUTPUT - output.length);
      options.onOutput?.(text);
      const m = PTY_LINE.exec(output);
      if (m) { clearTimeout(timer); resolvePty(m[1]); }
    };
    proc.stdout?.on("data", onText);
    proc.stderr?.on("data", onText);
    proc.once("error", (e: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      reject(e.code === "ENOENT"
        ? new BoardError(`${qemu} not found: install QEMU's Arm system emulator (apt-get install qemu-system-arm)`)
        : new BoardError(`cannot start ${qemu}: ${e.message}`));
    });
    proc.once("exit", (code, signal) => {
      clearTimeout(timer);
      reject(new BoardError(`${qemu} exited (${signal ?? `code ${code}`}) before the board's UART was up${output ? `: ${output.trim()}` : ""}`));
    });
  });
  let stopping: Promise<void> | null = null;
  return {
    uri: `serial:${ptyPath}?baud=${BOARD_BAUD}`, ptyPath, command: [qemu, ...args], process: proc, exited,
    output: () => output,
    stop() {
      stopping ??= (async () => {
        if (proc.exitCode !== null || proc.signalCode !== null) return;
        proc.kill("SIGTERM");
        const killer = setTimeout(() => proc.kill("SIGKILL"), 2000);
        await exited;
        clearTimeout(killer);
      })();
      return stopping;
    },
  };
}
