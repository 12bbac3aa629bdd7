// kiln serve's page in Debian's chromium (headless, driven by playwright-core): loads cleanly, reads drawn digits,
// gives the Node runtime's outputs bit for bit on 100 MNIST test digits (SIMD and scalar blobs), charts a profile.
import { spawn, type ChildProcess } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { chromium, type BrowserContext, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mnistPaths, readIdx } from "../io/idx.js";
import { Model } from "../runtime/model.js";
import { requireCommand } from "./require-tool.js";
import { tempDir } from "./helpers.js";

const ROOT = resolve(import.meta.dirname, "..");
const OUTPUT = join(ROOT, "test-output");
const chromiumPresent = requireCommand("chromium", "apt-get install --no-install-recommends chromium");
// The machine's network is closed: without these Chromium keeps retrying connections of its own.
const CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--no-first-run", "--disable-sync"];

interface Served { url: string; process: ChildProcess; blob: Uint8Array; model: Model }

/** `kiln serve …` from dist/ on a free port, once it prints its address (compiling the bundled blob may come first). */
async function serve(args: string[]): Promise<Served> {
  const child = spawn(process.execPath, [join(ROOT, "dist", "bin", "kiln.js"), "serve", ...args, "--port", "0"], { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  const url = await new Promise<string>((resolvePromise, reject) => {
    const timer = setTimeout(() => reject(new Error(`kiln serve printed no address in 240 s:\n${output}`)), 240_000);
    const read = (chunk: Buffer): void => {
      output += chunk.toString();
      const match = /kiln serve: (http:\/\/\S+)/.exec(output);
      if (match) { clearTimeout(timer); resolvePromise(match[1]); }
    };
    child.stdout!.on("data", read);
    child.stderr!.on("data", read);
    child.on("exit", (code) => { clearTimeout(timer); reject(new Error(`kiln serve exited (${code}):\n${output}`)); });
  });
  const blob = new Uint8Array(await (await fetch(new URL("model.wasm", url))).arrayBuffer());
  return { url, process: child, blob, model: await Model.load(blob) };
}

/** A page that records every console error and uncaught exception. */
async function open(context: BrowserContext, url: string, errors: string[]): Promise<Page> {
  const page = await context.newPage();
  page.on("console", (m) => { if (m.type() === "error") errors.push(m.text()); });
  page.on("pageerror", (e) => errors.push(e.message));
  await page.goto(url);
  await page.waitForFunction(() => document.body.dataset.state !== "loading");
  return page;
}

/** Strokes across the drawing pad; points in pad fractions (0..1). */
async function draw(page: Page, strokes: [number, number][][]): Promise<void> {
  await page.click("#clear");
  const box = (await page.locator("#pad").boundingBox())!;
  for (const points of strokes) {
    await page.mouse.move(box.x + points[0][0] * box.width, box.y + points[0][1] * box.height);
    await page.mouse.down();
    for (const [x, y] of points.slice(1)) await page.mouse.move(box.x + x * box.width, box.y + y * box.height, { steps: 10 });
    await page.mouse.up();
  }
  // Predictions follow strokes asynchronously: the one shown is the finished drawing's once the predictor is idle.
  await page.waitForFunction(() => document.body.dataset.predicting === "no");
}

/** The 28×28 input the page prepared from the drawing, read back from its preview canvas. */
const preparedInput = (page: Page): Promise<number[]> => page.evaluate(() => {
  const canvas = document.getElementById("prepared") as HTMLCanvasElement;
  const data = canvas.getContext("2d")!.getImageData(0, 0, canvas.width, canvas.height).data;
  return Array.from({ length: data.length / 4 }, (_, i) => data[i * 4]);
});

const TEST_DIGITS = readIdx(mnistPaths().testImages, 100);

/**
 * The page's raw outputs for the 100 test digits, and the Node runtime's for the same blob; the times per digit are
 * each side's median on its second pass (the first one runs while the engine still tiers the code up).
 */
async function bothRuntimes(page: Page, model: Model): Promise<{ page: number[]; node: number[]; pageUs: number; nodeUs: number }> {
  const pixels = TEST_DIGITS.data.subarray(0, 100 * 784);
  const evaluate = (): Promise<{ raw: number[]; usPerInput: number }> =>
    page.evaluate(([px, n]) => window.kilnPage.evaluate(px, n), [Array.from(pixels), 100] as [number[], number]);
  const inPage = await evaluate();
  const again = await evaluate();
  expect(again.raw).toEqual(inPage.raw);
  const node: number[] = [];
  for (let i = 0; i < 100; i++) { model.predict(pixels.subarray(i * 784, (i + 1) * 784)); node.push(...model.rawOutput()); }
  const times: number[] = [];
  for (let i = 0; i < 100; i++) {
    const t0 = performance.now();
    model.predict(pixels.subarray(i * 784, (i + 1) * 784));
    times.push((performance.now() - t0) * 1000);
  }
  return { page: inPage.raw, node, pageUs: again.usPerInput, nodeUs: times.sort((a, b) => a - b)[50] };
}

describe.skipIf(!chromiumPresent.ok)(`kiln serve's page in headless chromium${chromiumPresent.note}`, () => {
  let simd: Served, scalar: Served, context: BrowserContext, page: Page;
  const errors: string[] = [];

  beforeAll(async () => {
    // tests/global-setup.ts built dist/web/ (npm run build:web) before the suites started.
    [simd, scalar] = await Promise.all([serve([]), serve(["--target", "scalar"])]);
    context = await chromium.launchPersistentContext(tempDir("kiln-chromium-"), {
      executablePath: "/usr/bin/chromium", headless: true, args: CHROMIUM_ARGS, viewport: { width: 1100, height: 1300 },
    });
    page = await open(context, simd.url, errors);
  });
  afterAll(async () => {
    await context?.close();
    simd?.process.kill("SIGTERM");
    scalar?.process.kill("SIGTERM");
  });

  it("loads the bundled blob with no console error and shows its manifest as kiln inspect does", async () => {
    expect(await page.getAttribute("body", "data-state")).toBe("ready");
    expect(errors).toEqual([]);
    const info = simd.model.info;
    expect(await page.textContent("#manifest")).toContain(`model ${info.model}  (int8, target simd, needs SIMD128)`);
    expect(await page.locator("#manifest table.layers tbody tr").count()).toBe(info.layers.length);
    expect(await page.textContent("#simd")).toBe("WebAssembly SIMD: available");
    expect(await page.isHidden("#simd-warning")).toBe(true);
  });

  for (const [digit, strokes] of [
    ["1", [[[0.52, 0.12], [0.47, 0.88]]]],
    ["7", [[[0.25, 0.18], [0.75, 0.18], [0.42, 0.88]]]],
    ["0", [Array.from({ length: 25 }, (_, i) => [0.5 + 0.22 * Math.sin((i / 24) * 2 * Math.PI), 0.5 - 0.35 * Math.cos((i / 24) * 2 * Math.PI)])]],
  ] as [string, [number, number][][]][]) {
    it(`reads a drawn ${digit}, predicting what the Node runtime predicts for the prepared input`, async () => {
      await draw(page, strokes);
      expect(await page.textContent("#prediction")).toBe(digit);
      expect(await page.locator("#top3 li").count()).toBe(3);
      expect(simd.model.predict(Uint8Array.from(await preparedInput(page))).label).toBe(digit);
    });
  }

  it("gives the Node runtime's outputs bit for bit on 100 MNIST test digits (SIMD blob)", async () => {
    const r = await bothRuntimes(page, simd.model);
    expect(r.page.length).toBe(1000);
    expect(r.page).toEqual(r.node);
    console.log(`web: mnist-cnn int8 simd, 100 digits: median ${r.pageUs.toFixed(1)} µs each in the page's worker, ${r.nodeUs.toFixed(1)} µs in Node`);
  });

  it("profiles in a Web Worker: one bar per layer and the end-to-end time; a screenshot goes to test-output/web.png", async () => {
    await page.waitForSelector("#profile[data-state=done]", { timeout: 60_000 });
    expect(await page.locator("#profile .bar").count()).toBe(simd.model.info.layers.length);
    expect(await page.textContent("#profile .end-to-end")).toMatch(/^end to end [\d.]+ (µs|ms) p50/);
    const profile = await page.evaluate(() => window.kilnPage.profile());
    console.log(`web: profile in page ${profile.endToEnd.p50Us.toFixed(1)} µs end to end, layers ${profile.layers.map((l) => l.p50Us.toFixed(1)).join(" / ")} µs`);
    await draw(page, [[[0.25, 0.18], [0.75, 0.18], [0.42, 0.88]]]);
    mkdirSync(OUTPUT, { recursive: true });
    await page.screenshot({ path: join(OUTPUT, "web.png"), fullPage: true });
    expect(errors).toEqual([]);
  });

  it("runs a scalar blob: served by kiln serve --target scalar, and picked with the file input", async () => {
    expect(scalar.model.info.target).toBe("scalar");
    const scalarErrors: string[] = [];
    const served = await open(context, scalar.url, scalarErrors);
    expect(await served.textContent("#manifest")).toContain("target scalar");
    const r = await bothRuntimes(served, scalar.model);
    expect(r.page).toEqual(r.node);
    console.log(`web: mnist-cnn int8 scalar, 100 digits: median ${r.pageUs.toFixed(1)} µs each in the page's worker, ${r.nodeUs.toFixed(1)} µs in Node`);
    await served.waitForSelector("#profile[data-state=done]", { timeout: 60_000 });
    expect(await served.locator("#profile .bar").count()).toBe(scalar.model.info.layers.length);
    expect(scalarErrors).toEqual([]);
    await served.close();

    const file = join(tempDir(), "picked-scalar.wasm");
    writeFileSync(file, scalar.blob);
    await page.setInputFiles("#pick", file);
    await page.waitForFunction(() => document.body.dataset.state === "ready" && document.getElementById("status")!.textContent!.startsWith("picked-scalar.wasm"));
    expect(await page.textContent("#manifest")).toContain("target scalar");
    expect((await bothRuntimes(page, scalar.model)).page).toEqual(r.node);
  });

  it("says what is wrong with a file that is not a blob, on the page rather than the console", async () => {
    const file = join(tempDir(), "notes.wasm");
    writeFileSync(file, "these are not WebAssembly bytes");
    await page.setInputFiles("#pick", file);
    await page.waitForFunction(() => document.body.dataset.state === "error");
    expect(await page.textContent("#status")).toMatch(/^notes\.wasm \(from this computer\): .*(WebAssembly|not a Kiln blob)/);
    expect(errors).toEqual([]);
  });

  it("says clearly when the browser lacks WebAssembly SIMD", async () => {
    // Chromium cannot turn SIMD off; the page's check is made to fail instead, as it would in such a browser.
    const lacking = await context.newPage();
    await lacking.addInitScript(() => { WebAssembly.validate = () => false; });
    await lacking.goto(simd.url);
    await lacking.waitForSelector("#simd-warning:not([hidden])");
    expect(await lacking.textContent("#simd-warning")).toContain("This browser lacks WebAssembly SIMD: SIMD blobs cannot run here");
    await lacking.close();
  });
});
