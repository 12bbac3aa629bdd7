// Errors a user can act on: they carry the file and node they are about and never need a stack trace.
export class KilnError extends Error {
  constructor(message: string, readonly exitCode = 1) {
    super(message);
    this.name = "KilnError";
  }
}

/** Wrong command-line usage: exit code 2. */
export class UsageError extends KilnError {
  constructor(message: string) {
    super(message, 2);
    this.name = "UsageError";
  }
}

/**
 * Characters that must not reach a message or a terminal raw: C0 controls (a newline would split a one-line error,
 * ESC starts cursor moves, screen clears, title changes), DEL, C1 controls (0x9B is an 8-bit CSI on some terminals),
 * and the bidi controls that reorder what follows them on screen (U+202A–E, U+2066–9, U+200E/F, U+061C).
 */
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/;
const CONTROLS = new RegExp(CONTROL.source, "g");

/** Longest name a message shows: enough to recognise it, short enough that a hostile one cannot flood the line. */
export const MAX_SHOWN_NAME = 80;
/** Longest file path a message shows (a shard's resolved path: the user's folder, then what the manifest lists). */
export const MAX_SHOWN_PATH = 240;

/** The escape looks like JSON's, so a JSON line stays valid JSON and parses back to the original text. */
const escapeOne = (c: string): string => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`;

/** Every control character of `text` as a \uXXXX escape, newlines too (no length bound: see fileText for messages). */
export function escapeControl(text: string): string {
  return text.replace(CONTROLS, escapeOne);
}

/**
 * A string from a model file (a name, op, class, path, key…) as a message shows it: control characters as \uXXXX
 * escapes, and at most `max` characters (a longer one is cut, never inside an escape or a surrogate pair, and ends in …).
 */
export function fileText(text: string, max = MAX_SHOWN_NAME): string {
  let out = "", fitsWithEllipsis = 0;
  for (const ch of text) {
    const shown = CONTROL.test(ch) ? escapeOne(ch) : ch;
    if (out.length + shown.length > max) return `${out.slice(0, fitsWithEllipsis)}…`;
    out += shown;
    if (out.length < max) fitsWithEllipsis = out.length;
  }
  return out;
}

/** fileText in single quotes: `layer ${quoteName(name)}` reads layer 'conv1'. */
export function quoteName(text: string, max = MAX_SHOWN_NAME): string {
  return `'${fileText(text, max)}'`;
}

/** Names from a file as a short list: the first `shown` (each as fileText), then how many more (a file may list thousands). */
export function fileTextList(names: readonly string[], shown = 4): string {
  const more = names.length > shown ? ` and ${names.length - shown} more` : "";
  return names.slice(0, shown).map((n) => fileText(n)).join(", ") + more;
}
