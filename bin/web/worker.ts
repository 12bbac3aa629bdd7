// The page's blob host, run as a Web Worker: loads a blob with the runtime core (runtime/model.ts), predicts, profiles.
import { Model } from "../../runtime/model.js";
import { hasWasmSimd, type Reply, type Request } from "./messages.js";

let model: Model | undefined;

const reply = (message: Reply, transfer: Transferable[] = []): void => self.postMessage(message, { transfer });

/** A SIMD blob fails to compile where SIMD is missing; say that rather than "corrupt". */
function explain(e: unknown): string {
  const message = e instanceof Error ? e.message : String(e);
  return hasWasmSimd() ? message : `this browser lacks WebAssembly SIMD, which SIMD blobs need (compile with --target scalar): ${message}`;
}

function loaded(): Model {
  if (!model) throw new Error("no blob loaded");
  return model;
}

/** Calls per timed sample so that one sample spans ~2 ms: the browser's clock ticks in 5 µs at best (100 µs if not isolated). */
function callsPerSample(m: Model): number {
  // Twice: the first 20 ms see the engine's baseline code; the second, what the profile will run.
  let usPerRun = 0;
  for (let pass = 0; pass < 2; pass++) {
    let calls = 0;
    const t0 = performance.now();
    while (performance.now() - t0 < 20) { m.exports.run(); calls++; }
    usPerRun = ((performance.now() - t0) * 1000) / calls;
  }
  return Math.min(1000, Math.max(1, Math.ceil(2000 / usPerRun)));
}

function handle(request: Request): void | Promise<void> {
  switch (request.type) {
    case "load":
      return Model.load(request.bytes).then((m) => { model = m; reply({ type: "loaded", info: m.info }); });
    case "predict": {
      const m = loaded();
      const p = m.predict(request.pixels);
      const raw = m.rawOutput();
      return reply({ type: "predicted", id: request.id, raw, scores: p.scores }, [raw.buffer, p.scores.buffer]);
    }
    case "evaluate": {
      const m = loaded();
      const size = m.inputSize, width = m.outputSize;
      const raw = m.info.output.dtype === "float32" ? new Float32Array(request.count * width) : new Int8Array(request.count * width);
      const times: number[] = [];
      for (let i = 0; i < request.count; i++) {
        const t0 = performance.now();
        m.setInput(request.pixels.subarray(i * size, (i + 1) * size));
        m.exports.run();
        raw.set(m.rawOutput(), i * width);
        times.push((performance.now() - t0) * 1000);
      }
      // The median: a mean would count the times this worker was not running at all on a busy machine.
      const usPerInput = times.sort((a, b) => a - b)[times.length >> 1] ?? 0;
      return reply({ type: "evaluated", id: request.id, raw, usPerInput }, [raw.buffer]);
    }
    case "profile": {
      const m = loaded(), repeat = callsPerSample(m);
      const result = m.profile({ runs: request.runs, warmup: request.warmup, budgetMs: request.budgetMs, repeat });
      return reply({ type: "profiled", result, repeat, isolated: self.crossOriginIsolated });
    }
  }
}

self.onmessage = async (event: MessageEvent<Request>) => {
  try {
    await handle(event.data);
  } catch (e) {
    reply({ type: "error", message: explain(e) });
  }
};
