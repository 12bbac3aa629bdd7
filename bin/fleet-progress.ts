// One progress line per device: redrawn in place on a terminal, or one line per device as it finishes elsewhere.
import { escapeControl } from "./terminal.js";

export interface FleetLines {
  /** The line's current text (shown on a terminal only). */
  set(index: number, text: string): void;
  /** The line's final text: on a terminal it stays in place, elsewhere it is printed now. */
  finish(index: number, text: string): void;
  /** Draws the final state; nothing is written afterwards. */
  close(): void;
}

/** What the lines need of a stream: process.stderr, or a test's fake terminal. */
export interface LineStream {
  isTTY?: boolean;
  rows?: number;
  columns?: number;
  write(text: string): unknown;
}

const REDRAW_MS = 100;

/** The devices' names for their lines, escaped and padded to one width so that the statuses line up. */
export function progressLabels(devices: { description: string }[]): string[] {
  const names = devices.map((d) => escapeControl(d.description));
  const width = Math.min(48, Math.max(...names.map((n) => n.length)));
  return names.map((n) => n.padEnd(width));
}
const SILENT: FleetLines = { set: () => {}, finish: () => {}, close: () => {} };

/**
 * `count` lines on `stream`. In place only when all of them fit the terminal's height: cursor-up cannot reach
 * a line that has scrolled away, so a taller fleet prints a line per finished device, as into a file or a pipe.
 * Texts must already be escaped (escapeControl); each is cut to the terminal's width so that none wraps.
 */
export function fleetLines(count: number, enabled: boolean, stream: LineStream = process.stderr): FleetLines {
  if (!enabled || count === 0) return SILENT;
  const live = Boolean(stream.isTTY) && count < (stream.rows || 24);
  if (!live) return { set: () => {}, finish: (_, text) => { stream.write(`${text}\n`); }, close: () => {} };
  const texts = new Array<string>(count).fill("");
  let drawn = false, timer: NodeJS.Timeout | null = null, closed = false;
  const width = (): number => Math.max(20, (stream.columns || 80) - 1);
  const draw = (): void => {
    timer = null;
    const fit = (t: string): string => ([...t].length > width() ? `${[...t].slice(0, width() - 1).join("")}…` : t);
    // Up to the first line, then each line cleared and written again.
    stream.write((drawn ? `\x1b[${count}A` : "") + texts.map((t) => `\r\x1b[2K${fit(t)}\n`).join(""));
    drawn = true;
  };
  const later = (): void => { if (!timer && !closed) timer = setTimeout(draw, drawn ? REDRAW_MS : 0); };
  return {
    set(index, text) { if (!closed) { texts[index] = text; later(); } },
    finish(index, text) { if (!closed) { texts[index] = text; later(); } },
    close() {
      if (closed) return;
      if (timer) clearTimeout(timer);
      draw();
      closed = true;
    },
  };
}
