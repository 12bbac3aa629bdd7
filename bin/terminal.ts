// Makes text from files and devices safe to print: control characters become visible \uXXXX escapes.
import { escapeControl } from "../compiler/errors.js";

/** For one field from a file or a device (a label, a layer or device name): compiler/errors.ts has the set. */
export { escapeControl };

/** The colour codes table.ts's paint() writes; nothing else with an ESC is Kiln's own. */
const KILN_STYLE = /\x1b\[(?:0|1|2|32|33|36)m/g;

/**
 * For a whole line at the output sink, after any field escaping: keeps the newlines Kiln itself writes and, when
 * `keepStyles` (colour is on for that stream), Kiln's colour codes; escapes every other control character.
 */
export function terminalSafe(line: string, keepStyles: boolean): string {
  const escapeRun = (text: string): string => text.split("\n").map(escapeControl).join("\n");
  if (!keepStyles) return escapeRun(line);
  let out = "", last = 0;
  for (const m of line.matchAll(KILN_STYLE)) {
    out += escapeRun(line.slice(last, m.index)) + m[0];
    last = m.index! + m[0].length;
  }
  return out + escapeRun(line.slice(last));
}
