// A fuzz run: builds the seed corpus, runs the cases on the pool, and summarizes them per target.
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { availableParallelism, tmpdir } from "node:os";
import { join } from "node:path";
import { buildCorpus } from "./corpus.js";
import { VERDICTS, type Verdict } from "./oracle.js";
import { runCases, type CaseResult, type CaseSpec } from "./pool.js";
import { TARGETS } from "./targets.js";

export interface FuzzOptions {
  /** Cases in all, shared evenly by the targets. */
  cases: number;
  seed: number;
  /** Target names (default: all). */
  targets?: string[];
  /** Run exactly this case index of each chosen target (for a reproducer). */
  only?: number;
  workers?: number;
  heapMb?: number;
  rssMb?: number;
  /** Keep each case's files (the mutated inputs) and report where. */
  keep?: boolean;
  onResult?: (r: CaseResult) => void;
}

export interface FuzzRun { results: CaseResult[]; failures: CaseResult[]; seconds: number }

export const FAILING: readonly Verdict[] = ["crash", "stack", "hang", "memory"];

export function caseSpecs(o: FuzzOptions): CaseSpec[] {
  const targets = o.targets?.length ? TARGETS.filter((t) => o.targets!.includes(t.name)) : TARGETS;
  if (o.targets?.length && targets.length !== o.targets.length) {
    throw new Error(`unknown target in ${o.targets.join(", ")}; targets: ${TARGETS.map((t) => t.name).join(", ")}`);
  }
  if (o.only !== undefined) return targets.map((t) => ({ target: t.name, seed: o.seed, index: o.only!, timeoutMs: t.timeoutMs }));
  const perTarget = Math.ceil(o.cases / targets.length);
  const specs: CaseSpec[] = [];
  // Interleaved, so the slow targets (compiles) spread over the run and over the workers.
  for (let index = 0; index < perTarget; index++) for (const t of targets) specs.push({ target: t.name, seed: o.seed, index, timeoutMs: t.timeoutMs });
  return specs;
}

export async function runFuzz(o: FuzzOptions): Promise<FuzzRun> {
  const started = performance.now();
  const specs = caseSpecs(o);
  const tmp = mkdtempSync(join(tmpdir(), "kiln-fuzz-"));
  try {
    const corpus = join(tmp, "corpus");
    await buildCorpus(corpus);
    const work = join(tmp, "cases");
    mkdirSync(work);
    const results = await runCases(specs, {
      workers: o.workers ?? Math.max(1, Math.min(4, availableParallelism())),
      heapMb: o.heapMb ?? 1024, rssMb: o.rssMb ?? 2048, onResult: o.onResult, showOutput: o.only !== undefined,
      setup: { corpus, tmp: work, keep: o.keep ?? false },
    });
    results.sort((a, b) => a.target.localeCompare(b.target) || a.index - b.index);
    return { results, failures: results.filter((r) => FAILING.includes(r.verdict)), seconds: (performance.now() - started) / 1000 };
  } finally {
    if (!o.keep) rmSync(tmp, { recursive: true, force: true });
  }
}

/** The command line that re-runs exactly one case. */
export function rerunCommand(r: Pick<CaseResult, "target" | "seed" | "index">): string {
  return `npm run fuzz -- --target ${r.target} --seed ${r.seed} --case ${r.index}`;
}

const COLUMNS: [Verdict, string][] = [["clean", "clean errors"], ["success", "successes"], ["crash", "crashes"], ["hang", "hangs"], ["memory", "memory blow-ups"], ["stack", "stack traces"]];

/** One row per target and a total: cases, then how many ended which way. */
export function summaryTable(results: CaseResult[]): string {
  const names = [...new Set(results.map((r) => r.target))];
  const count = (rs: CaseResult[], v: Verdict): number => rs.filter((r) => r.verdict === v).length;
  const rows = [...names.map((n) => [n, results.filter((r) => r.target === n)] as const), ["total", results] as const]
    .map(([name, rs]) => [name, String(rs.length), ...COLUMNS.map(([v]) => String(count(rs, v))), (rs.reduce((a, r) => a + r.ms, 0) / 1000).toFixed(1)]);
  const header = ["target", "cases", ...COLUMNS.map(([, title]) => title), "case seconds"];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]): string => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join("  ");
  return [line(header), ...rows.map(line)].join("\n");
}

/** Failures grouped by what they say (numbers and quoted names blurred), each with the first case that shows it. */
export function distinctFailures(failures: CaseResult[]): { key: string; count: number; first: CaseResult }[] {
  const groups = new Map<string, { key: string; count: number; first: CaseResult }>();
  for (const f of failures) {
    const blurred = f.message.split("\n")[0].replace(/'[^']*'|"[^"]*"/g, "'…'").replace(/\/[\w./-]+/g, "<path>").replace(/-?\d+(\.\d+)?(e[+-]?\d+)?/gi, "N").slice(0, 160);
    const key = `${f.target} ${f.verdict}: ${blurred}`;
    const g = groups.get(key);
    if (g) g.count++;
    else groups.set(key, { key, count: 1, first: f });
  }
  return [...groups.values()].sort((a, b) => b.count - a.count);
}

/** The failure report: one paragraph per distinct failure, with the command that reproduces it. */
export function failureReport(failures: CaseResult[]): string {
  return distinctFailures(failures).map(({ key, count, first }) =>
    `${key}  (×${count})\n  first: case ${first.index} — ${first.what}\n  ${first.message.split("\n")[0]}\n  re-run: ${rerunCommand(first)}`).join("\n");
}

export { VERDICTS };
