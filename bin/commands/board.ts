// `kiln board start`: boots the Kiln firmware on the emulated Cortex-M4 board (QEMU) and prints its device URI.
import { KilnError, UsageError } from "../../compiler/errors.js";
import { BoardError, DEFAULT_ELF, startBoard } from "../../firmware-host/board.js";
import { defineCommand, parseArgs } from "../args.js";
import type { Io } from "../io.js";
import { escapeControl } from "../terminal.js";

export const boardSpec = defineCommand({
  name: "board",
  summary: "boot the firmware on the emulated Cortex-M4 board (QEMU mps2-an386) and print its device URI",
  usage: "kiln board start [--elf firmware/build/kiln-fw.elf] [--icount]",
  options: {
    elf: { type: "string", description: "the firmware to boot (built by npm run firmware)", default: DEFAULT_ELF },
    icount: { type: "boolean", description: "count instructions (-icount shift=5): repeatable cycle counts, slower" },
  },
});

export async function boardCommand(argv: string[], io: Io): Promise<void> {
  const parsed = parseArgs(boardSpec, argv);
  const [action, extra] = parsed.positionals;
  if (action !== "start" || extra !== undefined) throw new UsageError(`kiln board: usage: ${boardSpec.usage}`);
  let board;
  try {
    board = await startBoard({ elf: parsed.options.elf, icount: parsed.options.icount });
  } catch (e) {
    if (e instanceof BoardError) throw new KilnError(`kiln board: ${e.message}`);
    throw e;
  }
  // The URI alone on stdout (for scripts); how to use it on stderr.
  io.out(board.uri);
  io.err(`board mps2-an386 (Cortex-M4, QEMU${parsed.options.icount ? ", -icount shift=5" : ""}) runs ${escapeControl(parsed.options.elf)}; its UART is ${board.ptyPath}`);
  io.err(`  kiln deploy model.wasm --device ${board.uri}   (boards run blobs compiled with --target scalar)`);
  io.err(`  kiln bench --device ${board.uri}`);
  io.err("Ctrl-C stops the board.");
  let stoppedByUs = false;
  const stop = (): void => { stoppedByUs = true; void board.stop(); };
  process.once("SIGINT", stop);
  process.once("SIGTERM", stop);
  process.once("SIGHUP", stop);
  try {
    const { code, signal } = await board.exited;
    if (!stoppedByUs) {
      const tail = board.output().trim().split("\n").slice(-5).join("\n");
      throw new KilnError(`kiln board: QEMU exited (${signal ?? `code ${code}`})${tail ? `: ${tail}` : ""}`);
    }
    io.err("board stopped");
  } finally {
    process.off("SIGINT", stop);
    process.off("SIGTERM", stop);
    process.off("SIGHUP", stop);
    await board.stop();
  }
}
