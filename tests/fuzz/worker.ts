// A fuzz worker thread: runs the cases the pool sends, one at a time, and reports how each one ended.
import { mkdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { parentPort, workerData } from "node:worker_threads";
import { judge, type Outcome } from "./oracle.js";
import { caseRng } from "./prng.js";
import { targetNamed } from "./targets.js";

export interface WorkerSetup { corpus: string; tmp: string; keep: boolean }
export interface CaseMessage { id: number; target: string; seed: number; index: number }
export type WorkerReply =
  | { kind: "ready" }
  /** Sent before the case runs, so a case that never ends is still reported with its mutations. */
  | { kind: "started"; id: number; what: string }
  | ({ kind: "done"; id: number; what: string; scratch?: string } & Outcome)
  /** An error thrown outside any case's promise chain (e.g. an unhandled rejection after the case ended). */
  | ({ kind: "stray" } & Outcome);

const setup = workerData as WorkerSetup;
const port = parentPort!;
const post = (m: WorkerReply): void => port.postMessage(m);

process.on("unhandledRejection", (e) => post({ kind: "stray", ...judge(e), verdict: "crash" }));
process.on("uncaughtException", (e) => post({ kind: "stray", ...judge(e), verdict: "crash" }));

port.on("message", (m: CaseMessage) => void runCase(m));
post({ kind: "ready" });

async function runCase({ id, target: name, seed, index }: CaseMessage): Promise<void> {
  const scratch = join(setup.tmp, `${name}-${seed}-${index}`);
  rmSync(scratch, { recursive: true, force: true });
  mkdirSync(scratch, { recursive: true });
  let what = "";
  let outcome: Outcome = { verdict: "success", message: "" };
  try {
    const target = targetNamed(name);
    if (!target) throw new Error(`no fuzz target named ${name}`);
    const prepared = await target.prepare(caseRng(name, seed, index), { corpus: setup.corpus, scratch, index });
    what = prepared.what;
    post({ kind: "started", id, what });
    await prepared.run();
  } catch (e) {
    outcome = judge(e);
  }
  // Let promises the case left behind settle now, so their failures are charged to this case.
  await new Promise((r) => setTimeout(r, 0));
  if (!setup.keep) rmSync(scratch, { recursive: true, force: true });
  post({ kind: "done", id, what, ...outcome, scratch: setup.keep ? scratch : undefined });
}
