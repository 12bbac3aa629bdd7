// The page: a blob (served or dropped) in a worker, its manifest, live predictions of a drawn digit, a profile chart.
import type { Manifest } from "../../runtime/manifest.js";
import type { ProfileResult } from "../../runtime/profile.js";
import { BlobHost } from "./blob-host.js";
import { prepareDigit, toChannels } from "./digit.js";
import { byId, el } from "./dom.js";
import { formatBytes } from "../format-bytes.js";
import { probabilitiesOf } from "../probabilities.js";
import { DrawPad, showPrepared } from "./draw-pad.js";
import { renderManifest } from "./manifest-view.js";
import { hasWasmSimd } from "./messages.js";
import { renderProfile } from "./profile-chart.js";

/** Larger files are refused before reading them: Kiln blobs for this page's models are well under 1 MiB. */
const MAX_BLOB_BYTES = 64 << 20;
const PROFILE = { runs: 300, warmup: 100, budgetMs: 3000 };

/** What tests and the console can call: the same worker the page predicts with. */
export interface PageApi {
  ready(): Promise<Manifest>;
  evaluate(pixels: number[], count: number): Promise<{ raw: number[]; usPerInput: number }>;
  profile(): Promise<ProfileResult>;
}
declare global { interface Window { kilnPage: PageApi } }

let host: BlobHost | undefined;
let blob: Uint8Array | undefined;
let loading: Promise<Manifest> = Promise.reject(new Error("no blob yet"));
loading.catch(() => undefined);
let profiling: Promise<ProfileResult> | undefined;
let predicting = false, dirty = false;

const status = (text: string, state: "loading" | "ready" | "error"): void => {
  byId("status").textContent = text;
  document.body.dataset.state = state;
};

/** The model's input as a square grey (or RGB) image, or undefined when the page cannot draw one for it. */
function drawableSide(info: Manifest): number | undefined {
  const [n, h, w, c] = info.input.shape;
  return info.input.shape.length === 4 && n === 1 && h === w && (c === 1 || c === 3) ? h : undefined;
}

function showPrediction(info: Manifest, scores: Float32Array): void {
  const p = probabilitiesOf(info, scores);
  const order = p.map((v, i) => [v, i] as const).sort((a, b) => b[0] - a[0]).slice(0, 3);
  byId("prediction").textContent = info.labels[order[0][1]] ?? String(order[0][1]);
  byId("top3").replaceChildren(...order.map(([v, i]) => {
    const row = el("li", "", "");
    const bar = el("span", "prob-bar");
    bar.style.width = `${(100 * v).toFixed(1)}%`;
    row.append(el("span", "prob-label", info.labels[i] ?? String(i)), el("span", "prob-track"), el("span", "prob-value", `${(100 * v).toFixed(1)} %`));
    row.children[1].append(bar);
    return row;
  }));
}

async function predictDrawing(pad: DrawPad): Promise<void> {
  if (!host) return;
  if (predicting) { dirty = true; return; }
  const side = drawableSide(host.info);
  if (side === undefined) return;
  predicting = true;
  document.body.dataset.predicting = "yes";
  try {
    do {
      dirty = false;
      const grey = prepareDigit(pad.grey(), side, Math.round((side * 20) / 28));
      showPrepared(byId<HTMLCanvasElement>("prepared"), grey, side);
      if (grey.every((v) => v === 0)) { byId("prediction").textContent = "–"; byId("top3").replaceChildren(); continue; }
      const pixels = toChannels(grey, host.info.input.shape[3]);
      const answer = await host.ask({ type: "predict", id: 0, pixels }, "predicted", [pixels.buffer]);
      showPrediction(host.info, answer.scores);
    } while (dirty);
  } catch (e) {
    status((e as Error).message, "error");
  } finally {
    predicting = false;
    document.body.dataset.predicting = "no";
  }
}

/** A profile in a fresh worker: the inference worker stays free, and the numbers are not those of a busy one. */
function profile(): Promise<ProfileResult> {
  const bytes = blob;
  if (!bytes) return Promise.reject(new Error("no blob loaded"));
  const chart = byId("profile");
  chart.dataset.state = "running";
  byId("profile-note").textContent = "profiling in a Web Worker…";
  let where = "";
  const run = (async () => {
    const worker = await BlobHost.start(bytes);
    try {
      const answer = await worker.ask({ type: "profile", ...PROFILE }, "profiled");
      where = `in a Web Worker of this browser, ${answer.repeat} back-to-back call${answer.repeat === 1 ? "" : "s"} per sample (its clock ticks in ${answer.isolated ? "5" : "100"} µs)`;
      return answer.result;
    } finally {
      worker.stop();
    }
  })();
  profiling = run.then((result) => {
    if (blob === bytes) {
      renderProfile(chart, result, where);
      byId("profile-note").textContent = "";
      chart.dataset.state = "done";
    }
    return result;
  }, (e: Error) => {
    byId("profile-note").textContent = `profile failed: ${e.message}`;
    chart.dataset.state = "error";
    throw e;
  });
  return profiling;
}

async function loadBlob(bytes: Uint8Array, source: string, pad: DrawPad): Promise<Manifest> {
  host?.stop();
  host = undefined;
  blob = undefined;
  status(`loading ${source}…`, "loading");
  byId("manifest").replaceChildren();
  byId("profile").replaceChildren();
  try {
    host = await BlobHost.start(bytes);
  } catch (e) {
    status(`${source}: ${(e as Error).message}`, "error");
    throw e;
  }
  blob = bytes;
  const info = host.info;
  renderManifest(byId("manifest"), info, bytes.byteLength, source);
  const side = drawableSide(info);
  byId("draw-note").textContent = side === undefined
    ? `this model takes [${info.input.shape.join(", ")}]: drawing needs a square grey or RGB image input`
    : `drawn digits are prepared as MNIST's were: ink box scaled into ${Math.round((side * 20) / 28)}×${Math.round((side * 20) / 28)}, centred by mass in ${side}×${side}`;
  status(`${source}: ${info.model}, ${info.quantize === "none" ? "float32" : info.quantize} ${info.target}, ${formatBytes(bytes.byteLength)}`, "ready");
  pad.clear();
  profile().catch(() => undefined);
  return info;
}

async function fromFile(file: File, pad: DrawPad): Promise<void> {
  if (file.size > MAX_BLOB_BYTES) { status(`${file.name}: ${formatBytes(file.size)} is larger than this page takes (${formatBytes(MAX_BLOB_BYTES)})`, "error"); return; }
  loading = loadBlob(new Uint8Array(await file.arrayBuffer()), `${file.name} (from this computer)`, pad);
  loading.catch(() => undefined);
}

async function fromServer(pad: DrawPad): Promise<Manifest> {
  const about = await fetch("blob.json").then((r) => r.json() as Promise<{ file: string; note: string }>);
  const response = await fetch("model.wasm");
  if (!response.ok) throw new Error(`the server gave no blob (HTTP ${response.status})`);
  return loadBlob(new Uint8Array(await response.arrayBuffer()), `${about.file} (${about.note})`, pad);
}

function main(): void {
  const simd = hasWasmSimd();
  byId("simd").textContent = simd ? "WebAssembly SIMD: available" : "";
  if (!simd) {
    const warning = byId("simd-warning");
    warning.textContent = "This browser lacks WebAssembly SIMD: SIMD blobs cannot run here. Load a scalar blob " +
      "(kiln compile --target scalar, or kiln serve --target scalar).";
    warning.hidden = false;
  }
  const pad = new DrawPad(byId<HTMLCanvasElement>("pad"), () => void predictDrawing(pad));
  byId("clear").addEventListener("click", () => pad.clear());
  byId("reprofile").addEventListener("click", () => void profile().catch(() => undefined));
  const picker = byId<HTMLInputElement>("pick");
  picker.addEventListener("change", () => { if (picker.files?.[0]) void fromFile(picker.files[0], pad); picker.value = ""; });
  document.addEventListener("dragover", (e) => { e.preventDefault(); document.body.classList.add("dropping"); });
  document.addEventListener("dragleave", () => document.body.classList.remove("dropping"));
  document.addEventListener("drop", (e) => {
    e.preventDefault();
    document.body.classList.remove("dropping");
    const file = e.dataTransfer?.files[0];
    if (file) void fromFile(file, pad);
  });
  loading = fromServer(pad);
  loading.catch((e: Error) => { if (document.body.dataset.state !== "error") status(e.message, "error"); });

  window.kilnPage = {
    ready: () => loading,
    async evaluate(pixels, count) {
      await loading;
      if (!host) throw new Error("no blob loaded");
      const answer = await host.ask({ type: "evaluate", id: 0, pixels: Uint8Array.from(pixels), count }, "evaluated");
      return { raw: Array.from(answer.raw), usPerInput: answer.usPerInput };
    },
    profile: () => profiling ?? profile(),
  };
}

main();
