// Aligned text tables and colour for terminal output; colour only on a TTY and never with NO_COLOR.
import { escapeControl } from "./terminal.js";

export interface Column {
  header: string;
  align?: "left" | "right";
}

export function useColor(stream: NodeJS.WriteStream = process.stdout): boolean {
  return Boolean(stream.isTTY) && process.env.NO_COLOR === undefined && process.env.TERM !== "dumb";
}

export function paint(text: string, code: number, enabled: boolean): string {
  return enabled ? `\x1b[${code}m${text}\x1b[0m` : text;
}

export const BOLD = 1, DIM = 2, CYAN = 36, YELLOW = 33, GREEN = 32;

/**
 * Pads every cell to its column's width; `styled` may wrap a cell in colour after padding. Cells often come from
 * files (layer names), so their control characters are escaped first.
 */
export function renderTable(columns: Column[], cells: string[][], styled?: (text: string, row: number, col: number) => string): string[] {
  const rows = cells.map((r) => r.map(escapeControl));
  const widths = columns.map((c, i) => Math.max(c.header.length, ...rows.map((r) => visibleLength(r[i] ?? ""))));
  const pad = (text: string, i: number): string => {
    const gap = " ".repeat(Math.max(0, widths[i] - visibleLength(text)));
    return columns[i].align === "right" ? gap + text : text + gap;
  };
  const head = columns.map((c, i) => pad(c.header, i)).join("  ");
  const body = rows.map((r, ri) => r.map((cell, ci) => (styled ? styled(pad(cell, ci), ri, ci) : pad(cell, ci))).join("  ").trimEnd());
  return [head.trimEnd(), ...body];
}

function visibleLength(s: string): number {
  return [...s.replace(/\x1b\[[0-9;]*m/g, "")].length;
}

/** A horizontal bar of `width` cells for a share 0..1, in eighth-block steps. */
export function bar(share: number, width: number): string {
  const eighths = Math.round(Math.max(0, Math.min(1, share)) * width * 8);
  const full = Math.floor(eighths / 8), rest = eighths % 8;
  return "█".repeat(full) + (rest ? "▏▎▍▌▋▊▉"[rest - 1] : "");
}
