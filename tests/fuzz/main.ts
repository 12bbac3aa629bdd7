// `npm run fuzz -- --cases N --seed S [--target T,…] [--case I] [--workers W] [--keep]`: a long fuzz run with a summary.
import { TARGETS } from "./targets.js";
import { distinctFailures, failureReport, rerunCommand, runFuzz, summaryTable, FAILING, type FuzzOptions } from "./run.js";

const USAGE = `usage: npm run fuzz -- [--cases N] [--seed S] [--target T[,T…]] [--case I] [--workers W] [--heap-mb M] [--rss-mb M] [--keep] [--errors] [--list]`;

function parse(argv: string[]): FuzzOptions & { list: boolean; errors: boolean } {
  const o: FuzzOptions & { list: boolean; errors: boolean } = { cases: 2000, seed: 1, list: false, errors: false };
  const number = (flag: string, text: string | undefined): number => {
    const n = Number(text);
    if (!Number.isSafeInteger(n) || n < 0) throw new Error(`${flag} needs a whole number ≥ 0, not ${JSON.stringify(text)}\n${USAGE}`);
    return n;
  };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    if (flag === "--list") o.list = true;
    else if (flag === "--keep") o.keep = true;
    else if (flag === "--errors") o.errors = true;
    else if (flag === "--cases") o.cases = number(flag, argv[++i]);
    else if (flag === "--seed") o.seed = number(flag, argv[++i]);
    else if (flag === "--case") o.only = number(flag, argv[++i]);
    else if (flag === "--workers") o.workers = Math.max(1, number(flag, argv[++i]));
    else if (flag === "--heap-mb") o.heapMb = number(flag, argv[++i]);
    else if (flag === "--rss-mb") o.rssMb = number(flag, argv[++i]);
    else if (flag === "--target") o.targets = (argv[++i] ?? "").split(",").filter(Boolean);
    else throw new Error(`unknown option ${flag}\n${USAGE}`);
  }
  return o;
}

async function main(): Promise<number> {
  const o = parse(process.argv.slice(2));
  if (o.list) {
    for (const t of TARGETS) console.log(`${t.name.padEnd(8)} ${t.about} (time limit ${t.timeoutMs / 1000} s)`);
    return 0;
  }
  let done = 0, lastTick = performance.now();
  const run = await runFuzz({
    ...o,
    onResult: (r) => {
      done++;
      if (o.only !== undefined) {
        console.log(`${r.target} seed ${r.seed} case ${r.index}: ${r.verdict} in ${r.ms.toFixed(0)} ms\n  mutation: ${r.what}\n  ${r.message || "(no error)"}`);
        if (r.stack) console.log(r.stack.split("\n").map((l) => `    ${l}`).join("\n"));
        if (r.scratch) console.log(`  files kept in ${r.scratch}`);
      } else if (FAILING.includes(r.verdict)) {
        console.log(`FAIL ${r.target} case ${r.index}: ${r.verdict}: ${r.message.split("\n")[0].slice(0, 200)}\n  ${r.what.slice(0, 300)}\n  re-run: ${rerunCommand(r)}`);
      } else if (performance.now() - lastTick > 15_000) {
        lastTick = performance.now();
        console.log(`… ${done} cases`);
      }
    },
  });
  console.log(`\nfuzz: seed ${o.seed}, ${run.results.length} cases in ${run.seconds.toFixed(0)} s\n${summaryTable(run.results)}`);
  // Which clean errors the cases end in shows how deep the mutations reach.
  if (o.errors) console.log(`\nclean errors, most frequent first:\n${distinctFailures(run.results.filter((r) => r.verdict === "clean")).map((g) => `${String(g.count).padStart(5)}  ${g.key}`).join("\n")}`);
  if (run.failures.length) console.log(`\ndistinct failures:\n${failureReport(run.failures)}`);
  return run.failures.length ? 1 : 0;
}

main().then((code) => { process.exitCode = code; }, (e: Error) => { console.error(e.message); process.exitCode = 2; });
