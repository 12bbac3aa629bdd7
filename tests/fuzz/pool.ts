// Runs cases on worker threads with a time limit (terminate) and memory bounds (V8 heap limit, process RSS).
import { existsSync } from "node:fs";
import { Worker } from "node:worker_threads";
import type { Outcome } from "./oracle.js";
import { WORKER_FILE } from "./paths.js";
import type { CaseMessage, WorkerReply, WorkerSetup } from "./worker.js";

export interface CaseSpec { target: string; seed: number; index: number; timeoutMs: number }
export interface CaseResult extends Outcome { target: string; seed: number; index: number; what: string; ms: number; scratch?: string }

export interface PoolOptions {
  workers: number;
  setup: WorkerSetup;
  /** V8 heap of one worker (resourceLimits.maxOldGenerationSizeMb). */
  heapMb: number;
  /** Growth of the process's resident memory (over its size when the cases start) past which running cases are
   *  stopped (typed arrays and WebAssembly memories live outside the V8 heap); each is then re-run alone, and one
   *  that passes it alone is a blow-up. */
  rssMb: number;
  onResult?: (r: CaseResult) => void;
  /** Let the code under test print (when re-running one case); otherwise its output is dropped. */
  showOutput?: boolean;
}

interface Slot { worker: Worker; job: { spec: CaseSpec; id: number; started: number; timer: NodeJS.Timeout; what: string } | null; last: CaseResult | null }

export async function runCases(specs: CaseSpec[], options: PoolOptions): Promise<CaseResult[]> {
  if (!existsSync(WORKER_FILE)) throw new Error(`${WORKER_FILE} is missing: build first (npx tsc -p tsconfig.json)`);
  const results: CaseResult[] = [];
  const deferred: CaseSpec[] = [];
  let next = 0;
  const first = await runPhase(specs, options.workers, false);
  results.push(...first);
  // Cases stopped because the process as a whole grew too big: alone, the one to blame shows itself.
  results.push(...(await runPhase(deferred.splice(0), 1, true)));
  return results;

  function runPhase(queue: CaseSpec[], size: number, alone: boolean): Promise<CaseResult[]> {
    next = 0;
    const out: CaseResult[] = [];
    if (queue.length === 0) return Promise.resolve(out);
    return new Promise((finish, fail) => {
      const slots: Slot[] = [];
      let ids = 0;
      const record = (slot: Slot, r: CaseResult): void => {
        out.push(r);
        slot.last = r;
        options.onResult?.(r);
      };
      const end = (slot: Slot, outcome: Outcome & { what?: string; scratch?: string }): void => {
        const job = slot.job!;
        clearTimeout(job.timer);
        slot.job = null;
        const { spec } = job;
        record(slot, { target: spec.target, seed: spec.seed, index: spec.index, ms: performance.now() - job.started, ...outcome, what: outcome.what || job.what });
      };
      const feed = (slot: Slot): void => {
        if (next >= queue.length) {
          void slot.worker.terminate();
          slots.splice(slots.indexOf(slot), 1);
          if (slots.length === 0) { clearInterval(monitor); finish(out); }
          return;
        }
        const spec = queue[next++];
        const id = ++ids;
        const timer = setTimeout(() => {
          end(slot, { verdict: "hang", message: `no answer within ${spec.timeoutMs} ms (worker terminated)` });
          replace(slot);
        }, spec.timeoutMs);
        slot.job = { spec, id, started: performance.now(), timer, what: "" };
        slot.worker.postMessage({ id, target: spec.target, seed: spec.seed, index: spec.index } satisfies CaseMessage);
      };
      const spawn = (slot?: Slot): Slot => {
        const quiet = !options.showOutput;
        const worker = new Worker(WORKER_FILE, { workerData: options.setup, resourceLimits: { maxOldGenerationSizeMb: options.heapMb }, stdout: quiet, stderr: quiet });
        // The code under test may print (progress, warnings): keep it off the report.
        if (quiet) { worker.stdout.resume(); worker.stderr.resume(); }
        const s: Slot = slot ?? { worker, job: null, last: null };
        s.worker = worker;
        worker.on("message", (m: WorkerReply) => {
          if (s.worker !== worker) return;
          if (m.kind === "ready") return feed(s);
          if (m.kind === "started") {
            if (s.job && m.id === s.job.id) s.job.what = m.what;
            return;
          }
          if (m.kind === "stray") {
            // Charged to the running case, or else to the last one this worker ran.
            if (s.job) return end(s, { ...m, message: `unhandled: ${m.message}` }), replace(s);
            if (s.last && (s.last.verdict === "success" || s.last.verdict === "clean")) Object.assign(s.last, { verdict: "crash", message: `after the case, unhandled: ${m.message}`, stack: m.stack });
            return;
          }
          if (s.job && m.id === s.job.id) {
            end(s, m);
            feed(s);
          }
        });
        worker.on("error", (e: Error & { code?: string }) => {
          if (s.worker !== worker) return;
          const memory = e.code === "ERR_WORKER_OUT_OF_MEMORY";
          if (s.job) end(s, { verdict: memory ? "memory" : "crash", message: memory ? `V8 heap of ${options.heapMb} MB exhausted (${e.message})` : `worker died: ${e.name}: ${e.message}`, stack: e.stack });
          else if (!s.last) return fail(e);
          replace(s);
        });
        worker.on("exit", () => {
          if (s.worker !== worker || !s.job) return;
          end(s, { verdict: "crash", message: "worker exited during the case" });
          replace(s);
        });
        return s;
      };
      const replace = (slot: Slot): void => {
        const old = slot.worker;
        spawn(slot);
        void old.terminate();
      };
      let calmUntil = 0;
      const ceiling = process.memoryUsage.rss() + options.rssMb * 2 ** 20;
      const monitor = setInterval(() => {
        // Terminated workers give their memory back a little later: give them a second before judging again.
        if (performance.now() < calmUntil || process.memoryUsage.rss() < ceiling) return;
        calmUntil = performance.now() + 1000;
        for (const slot of slots.filter((s) => s.job)) {
          const job = slot.job!;
          if (alone) {
            end(slot, { verdict: "memory", message: `resident memory grew by more than ${options.rssMb} MB (running alone)` });
          } else {
            clearTimeout(job.timer);
            slot.job = null;
            deferred.push(job.spec);
          }
          replace(slot);
        }
      }, 50);
      for (let i = 0; i < Math.min(size, queue.length); i++) slots.push(spawn());
    });
  }
}
