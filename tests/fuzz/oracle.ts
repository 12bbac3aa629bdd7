// The oracle: a case ends in success or a one-line Kiln error; everything else is a failure to report.
import { KilnError } from "../../compiler/errors.js";
import { BlobError } from "../../runtime/model.js";
import { DeviceError, LinkError, ProtocolError } from "../../firmware-host/errors.js";

/** clean: a one-line Kiln error. crash: any other error, or a broken promise. stack: a Kiln error of several lines
 *  (compiler diagnostics, a stack) that would reach the terminal. hang/memory: decided by the pool. */
export type Verdict = "success" | "clean" | "crash" | "stack" | "hang" | "memory";

export const VERDICTS: readonly Verdict[] = ["success", "clean", "crash", "stack", "hang", "memory"];

export interface Outcome {
  verdict: Verdict;
  /** The error's class and message (first 2000 characters), or what went wrong. */
  message: string;
  stack?: string;
}

/** A case that finished but broke a promise the code makes (e.g. a batch with fewer pixels than it claims). */
export class BrokenPromise extends Error {
  override name = "BrokenPromise";
}

/** The code under test stopped answering (an agent that no longer replies): judged a hang. */
export class Unresponsive extends Error {
  override name = "Unresponsive";
}

export const KILN_ERRORS = [KilnError, BlobError, DeviceError, LinkError, ProtocolError] as const;

export function isKilnError(e: unknown): boolean {
  return KILN_ERRORS.some((k) => e instanceof k);
}

const clip = (s: string): string => (s.length > 2000 ? `${s.slice(0, 2000)}… (${s.length} chars)` : s);

/** What a thrown value means for the case. */
export function judge(e: unknown): Outcome {
  if (!(e instanceof Error)) return { verdict: "crash", message: `threw a non-Error: ${clip(String(e))}` };
  const message = clip(`${e.name}: ${e.message}`);
  if (e instanceof Unresponsive) return { verdict: "hang", message };
  if (!isKilnError(e)) return { verdict: "crash", message, stack: e.stack };
  if (/[\r\n]/.test(e.message)) return { verdict: "stack", message, stack: e.stack };
  return { verdict: "clean", message };
}

/** Fails the case unless `ok`. */
export function promise(ok: boolean, what: string): void {
  if (!ok) throw new BrokenPromise(what);
}
