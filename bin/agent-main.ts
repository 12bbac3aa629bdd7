// The one-file agent (dist/kiln-agent.mjs, built by bin/build-agent.mjs): `kiln agent` alone, whose blob worker
// threads run this same file in the worker role (a bundle has no runtime/model-worker.js beside it).
import "./node-check.js"; // first: an unsupported Node is refused before the other modules load
import { isMainThread, parentPort, workerData } from "node:worker_threads";
import { serveModelWorker } from "../runtime/model-worker-serve.js";
import { useWorkerScript } from "../runtime/worker-model.js";
import { UsageError } from "../compiler/errors.js";
import { helpText } from "./args.js";
import { runMain } from "./cli-main.js";
import { agentCommand, agentSpec } from "./commands/agent.js";
import { processIo } from "./io.js";
import { versionLine } from "./version.js";

/** workerData of the threads this file starts to run blobs. */
const WORKER_ROLE = "kiln-model-worker";

async function main(argv: string[]): Promise<number> {
  if (argv[0] === "--version" || argv[0] === "-V") { processIo.out(versionLine("kiln-agent")); return 0; }
  if (argv.includes("--help") || argv.includes("-h")) {
    processIo.out(helpText({ ...agentSpec, usage: agentSpec.usage.replace(/^kiln agent/, "node kiln-agent.mjs") }));
    processIo.out(versionLine("kiln-agent"));
    return 0;
  }
  // `node kiln-agent.mjs agent …` reads like the full CLI's `kiln agent …`: both are accepted.
  await agentCommand(argv[0] === "agent" ? argv.slice(1) : argv, processIo).catch((e: unknown) => {
    // The one file has no `kiln help`: point a usage error at its own --help.
    if (e instanceof UsageError) e.message = e.message.replace("kiln help agent", "node kiln-agent.mjs --help");
    throw e;
  });
  return 0;
}

if (!isMainThread && (workerData as { role?: unknown } | null)?.role === WORKER_ROLE) {
  serveModelWorker(parentPort!);
} else {
  useWorkerScript({ url: new URL(import.meta.url), workerData: { role: WORKER_ROLE } });
  runMain(main, "kiln agent: ");
}
