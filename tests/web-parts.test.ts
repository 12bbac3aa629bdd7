// The web page's Node-testable parts: MNIST digit preparation (hand-computed), the server's bounds, profile repeats.
import { spawn, spawnSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { join, resolve } from "node:path";
import { request } from "node:http";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { inkBox, prepareDigit, type GreyImage } from "../bin/web/digit.js";
import { startWebServer, type WebServer } from "../bin/web-server.js";
import type { Model } from "../runtime/model.js";
import { profileModel } from "../runtime/profile.js";
import { handBlob } from "./hand-blob.js";
import { tempDir } from "./helpers.js";

const KILN = resolve(import.meta.dirname, "..", "dist", "bin", "kiln.js");

/** A `width`×`height` black image with the rectangle [x0, x1) × [y0, y1) set to `value`. */
function withRect(width: number, height: number, x0: number, y0: number, x1: number, y1: number, value = 255): GreyImage {
  const pixels = new Uint8Array(width * height);
  for (let y = y0; y < y1; y++) pixels.fill(value, y * width + x0, y * width + x1);
  return { pixels, width, height };
}

const cells = (out: Uint8Array, size = 28): [number, number, number][] =>
  Array.from(out, (v, i) => [i % size, Math.floor(i / size), v] as [number, number, number]).filter(([, , v]) => v > 0);

describe("MNIST digit preparation", () => {
  it("finds the ink's bounding box", () => {
    expect(inkBox(withRect(50, 40, 7, 3, 19, 31))).toEqual({ left: 7, top: 3, width: 12, height: 28 });
    expect(inkBox(withRect(10, 10, 0, 0, 0, 0))).toBeUndefined();
  });

  it("scales a square's box to 20×20 and centres its mass at (14, 14)", () => {
    // A 40×40 square anywhere on a 100×100 pad: 20×20 of full ink, mass centre 10 → shifted by 14 − 10 = 4.
    const out = prepareDigit(withRect(100, 100, 55, 7, 95, 47));
    const ink = cells(out);
    expect(ink.length).toBe(400);
    expect(ink.every(([, , v]) => v === 255)).toBe(true);
    expect(Math.min(...ink.map(([x]) => x))).toBe(4);
    expect(Math.max(...ink.map(([x]) => x))).toBe(23);
    expect(Math.min(...ink.map(([, y]) => y))).toBe(4);
  });

  it("keeps the aspect ratio: a 10×40 bar becomes 5×20, centred", () => {
    const ink = cells(prepareDigit(withRect(200, 200, 100, 50, 110, 90)));
    const xs = ink.map(([x]) => x), ys = ink.map(([, y]) => y);
    expect([Math.min(...xs), Math.max(...xs)]).toEqual([12, 16]); // mass centre 2.5 → shift round(11.5) = 12
    expect([Math.min(...ys), Math.max(...ys)]).toEqual([4, 23]);
  });

  it("averages areas when shrinking: a 3-pixel-wide line scaled by 1/3 becomes one column of full ink", () => {
    // 60 tall, 3 wide at x 30..32 → scale 20/60: 1 column of full ink, 20 rows.
    const ink = cells(prepareDigit(withRect(90, 90, 30, 10, 33, 70)));
    expect(ink.length).toBe(20);
    expect(ink.every(([x, , v]) => x === 14 && v === 255)).toBe(true);
  });

  it("gives half-covered cells half the ink (area averaging)", () => {
    // A column of 255 beside a column of 1 (barely inked, so that the box is 2 wide), 40 tall.
    const half = withRect(100, 100, 20, 20, 22, 60, 1);
    for (let y = 20; y < 60; y++) half.pixels[y * 100 + 20] = 255;
    const ink = cells(prepareDigit(half));
    // The 2×40 box shrinks by 1/2 to 1×20: each cell averages 4 pixels, two of 255 and two of 1 → 128.
    expect(ink.length).toBe(20);
    expect(ink.every(([, , v]) => v === 128)).toBe(true);
  });

  it("leaves an empty drawing empty", () => {
    expect(prepareDigit(withRect(30, 30, 0, 0, 0, 0)).every((v) => v === 0)).toBe(true);
  });
});

describe("profileModel repeat", () => {
  it("calls each layer `repeat` times per sample and reports the mean of the calls", () => {
    const calls = { run: 0, layer: [0, 0] };
    const fake = {
      info: { model: "m", target: "simd", quantize: "int8", layers: [{ name: "a", fused: ["dense"], outputShape: [1], macs: 0, weightBytes: 0 }, { name: "b", fused: ["dense"], outputShape: [1], macs: 0, weightBytes: 0 }] },
      exports: { run: () => calls.run++, run_layer: (i: number) => calls.layer[i]++ },
      inputSize: 1,
      setInput: () => undefined,
    } as unknown as Model;
    let clock = 0;
    const now = vi.spyOn(performance, "now").mockImplementation(() => (clock += 1)); // every reading 1 ms later
    try {
      const p = profileModel(fake, { runs: 4, warmup: 2, repeat: 3 });
      expect(calls).toEqual({ run: 18, layer: [18, 18] }); // (2 + 4) runs × 3 calls
      // Each timed span is one clock step (1 ms) over 3 calls: 333.33 µs per call.
      expect(p.endToEnd.p50Us).toBeCloseTo(1000 / 3, 6);
      expect(p.layers.map((l) => l.p50Us)).toEqual([1000 / 3, 1000 / 3]);
    } finally {
      now.mockRestore();
    }
  });
});

describe("kiln serve's HTTP server", () => {
  let server: WebServer;
  const blob = new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0, 42]);
  const page = { "index.html": "<!doctype html>page", "style.css": "body{}", "page.js": "1", "worker.js": "2" };
  let root: string;

  beforeAll(async () => {
    root = tempDir();
    const web = join(root, "web");
    mkdirSync(web);
    for (const [name, text] of Object.entries(page)) writeFileSync(join(web, name), text);
    writeFileSync(join(root, "secret.txt"), "never served");
    writeFileSync(join(web, "extra.txt"), "not one of the page's files");
    server = await startWebServer({ webDir: web, blob, blobFile: "m.wasm", blobNote: "test", host: "127.0.0.1", port: 0 });
  });
  afterAll(() => server?.close());

  function get(path: string, method = "GET", host?: string): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: Buffer }> {
    const url = new URL(server.url);
    return new Promise((resolve, reject) => {
      const req = request({ host: url.hostname, port: url.port, path, method, headers: host ? { host } : {} }, (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c)).on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
      });
      req.on("error", reject).end();
    });
  }

  it("serves the page's files, the blob and its description, with a content security policy and isolation", async () => {
    expect(server.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/);
    const index = await get("/");
    expect(index.body.toString()).toBe(page["index.html"]);
    expect(index.headers["content-security-policy"]).toContain("script-src 'self' 'wasm-unsafe-eval'");
    expect(index.headers["cross-origin-embedder-policy"]).toBe("require-corp");
    expect((await get("/worker.js?x=1")).body.toString()).toBe("2");
    const wasm = await get("/model.wasm");
    expect(wasm.headers["content-type"]).toBe("application/wasm");
    expect([...wasm.body]).toEqual([...blob]);
    expect(JSON.parse((await get("/blob.json")).body.toString())).toEqual({ file: "m.wasm", note: "test", bytes: blob.length });
  });

  it("serves nothing else: other files beside the page, paths out of it, other methods, other host names", async () => {
    for (const path of ["/extra.txt", "/../secret.txt", "/%2e%2e/secret.txt", "//etc/passwd", "/web/index.html", "/index.html/"]) {
      expect((await get(path)).status, path).toBe(404);
    }
    const post = await get("/", "POST");
    expect([post.status, post.headers.allow]).toEqual([405, "GET, HEAD"]);
    expect((await get("/", "GET", "attacker.example:80")).status).toBe(421);
    expect((await get("/", "GET", `localhost:${new URL(server.url).port}`)).status).toBe(200);
    expect((await get("/model.wasm", "HEAD")).body.length).toBe(0);
  });

  it("says how to build the page when dist/web is missing", async () => {
    await expect(startWebServer({ webDir: join(root, "nowhere"), blob, blobFile: "m.wasm", blobNote: "", host: "127.0.0.1", port: 0 }))
      .rejects.toThrow(/the web page is not built .*index\.html is missing\): run npm run build/);
  });
});

describe("kiln serve on the command line", () => {
  const kiln = (...args: string[]) => spawnSync(process.execPath, [KILN, "serve", ...args], { encoding: "utf8", timeout: 60_000 });

  it("refuses what it cannot serve with one line naming the file or option", async () => {
    const dir = tempDir();
    const notes = join(dir, "notes.wasm");
    writeFileSync(notes, "text");
    const blob = join(dir, "hand.wasm");
    writeFileSync(blob, await handBlob());
    for (const [args, message, code] of [
      [["missing.wasm"], "kiln serve: missing.wasm: file not found\n", 1],
      [[notes], `kiln serve: ${notes}: not a valid WebAssembly module (is the file truncated or corrupt?)\n`, 1],
      [["models/mnist-cnn/model.json"], "kiln serve: models/mnist-cnn/model.json is a TF.js model, not a compiled WebAssembly blob; compile it first: kiln compile models/mnist-cnn/model.json\n", 1],
      [[blob, "--target", "scalar"], "kiln serve: --target chooses the bundled MNIST blob's flavour; a given blob has its own target\n", 2],
      [[blob, blob], expect.stringMatching(/^kiln serve: one blob at most, got 2 \(usage: kiln serve \[blob\.wasm\]/), 2],
      [["--port", "65536"], "kiln serve: --port must be a whole number from 0 to 65,535, got '65536'\n", 2],
    ] as [string[], string, number][]) {
      const r = spawnSync(process.execPath, [KILN, "serve", ...args], { encoding: "utf8", cwd: resolve(import.meta.dirname, ".."), timeout: 60_000 });
      expect([r.stderr, r.status], args.join(" ")).toEqual([message, code]);
    }
    const busy = createServer();
    await new Promise<void>((ok) => busy.listen(0, "127.0.0.1", ok));
    const port = (busy.address() as { port: number }).port;
    try {
      const r = kiln(blob, "--port", String(port));
      expect([r.stderr, r.status]).toEqual([`kiln serve: port ${port} on 127.0.0.1 is in use; pick another with --port N (0 picks a free one)\n`, 1]);
    } finally {
      busy.close();
    }
  });

  it("serves a given blob as it is, and stops cleanly on SIGTERM", async () => {
    const bytes = await handBlob();
    const path = join(tempDir(), "given.wasm");
    writeFileSync(path, bytes);
    const child = spawn(process.execPath, [KILN, "serve", path, "--port", "0"], { stdio: ["ignore", "pipe", "inherit"] });
    let out = "";
    const url = await new Promise<string>((ok, fail) => {
      child.stdout.on("data", (c: Buffer) => { out += c; const m = /kiln serve: (http:\/\/\S+)/.exec(out); if (m) ok(m[1]); });
      child.on("exit", (code) => fail(new Error(`kiln serve exited (${code}): ${out}`)));
    });
    expect(out).toMatch(/\(given\.wasm, [\d.]+ (B|KiB); Ctrl-C stops it\)/);
    expect(new Uint8Array(await (await fetch(new URL("model.wasm", url))).arrayBuffer())).toEqual(bytes);
    expect(await (await fetch(new URL("blob.json", url))).json()).toEqual({ file: "given.wasm", note: "given to kiln serve", bytes: bytes.length });
    const exited = new Promise<number | null>((ok) => child.on("exit", ok));
    child.kill("SIGTERM");
    expect(await exited).toBe(0);
  });
});
