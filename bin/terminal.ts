// Makes text from files and devices safe to print: control characters become visible \uXXXX escapes.

/**
 * What a terminal may act on instead of showing: C0 controls (ESC starts cursor moves, screen clears, title
 * changes; BEL, CR, backspace…), DEL, C1 controls (0x9B is an 8-bit CSI on some terminals), and the bidi
 * controls that reorder what follows them on screen (U+202A–U+202E, U+2066–U+2069, U+200E/F, U+061C).
 */
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;

/** The escape looks like JSON's, so a JSON line stays valid JSON and parses back to the original text. */
function escapeOne(c: string): string {
  return `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`;
}

/** For one field from a file or a device (a label, a layer or device name): every control character escaped, newlines too. */
export function escapeControl(text: string): string {
  return text.replace(CONTROL, escapeOne);
}

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
