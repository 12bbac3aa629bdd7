// Output helpers shared by the commands: stdout/stderr sinks and human-friendly numbers.
import { useColor } from "./table.js";
import { terminalSafe } from "./terminal.js";
export { formatBytes } from "./format-bytes.js";

export interface Io {
  out(line: string): void;
  err(line: string): void;
}

/**
 * The terminal sinks. Commands escape the fields they take from files and devices (escapeControl); these escape
 * whatever control character still arrives, e.g. inside an error message, keeping Kiln's newlines and colours.
 */
export const processIo: Io = {
  out: (line) => process.stdout.write(terminalSafe(line, useColor(process.stdout)) + "\n"),
  err: (line) => process.stderr.write(terminalSafe(line, useColor(process.stderr)) + "\n"),
};

