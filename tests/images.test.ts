// Checks image decoding, resizing/channel conversion, and every input kind loadImages accepts.
import { describe, expect, it, beforeAll, afterAll } from "vitest";
import { mkdtempSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import jpeg from "jpeg-js";
import pngjs from "pngjs";
import { decodeImage, encodeGrayPng, loadImages, toModelInput } from "../io/images.js";
import { mnistPaths, readLabelledImages } from "../io/idx.js";

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "kiln-images-"));
});
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

function gray(height: number, width: number, value: (y: number, x: number) => number) {
  const pixels = new Uint8Array(height * width);
  for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) pixels[y * width + x] = value(y, x);
  return { height, width, channels: 1, pixels };
}

/** Builds an idx ubyte file: magic 0x0000 08 <rank>, big-endian dims, then data. */
function idxBytes(shape: number[], data: Uint8Array): Uint8Array {
  const header = new DataView(new ArrayBuffer(4 + 4 * shape.length));
  header.setUint8(2, 0x08);
  header.setUint8(3, shape.length);
  shape.forEach((d, i) => header.setUint32(4 + 4 * i, d, false));
  const out = new Uint8Array(header.byteLength + data.length);
  out.set(new Uint8Array(header.buffer));
  out.set(data, header.byteLength);
  return out;
}

describe("decodeImage / toModelInput", () => {
  it("round-trips a grayscale PNG byte for byte", () => {
    const img = gray(28, 28, (y, x) => (y * 37 + x * 11) % 256);
    const decoded = decodeImage(encodeGrayPng(img.pixels, 28, 28), "roundtrip.png");
    expect([decoded.height, decoded.width, decoded.channels]).toEqual([28, 28, 3]);
    expect(toModelInput(decoded, 28, 28, 1)).toEqual(img.pixels);
  });

  it("shrinks a 56×56 image of 2×2 blocks to exactly the block values", () => {
    const block = (by: number, bx: number) => (by * 7 + bx * 13) % 256;
    const big = gray(56, 56, (y, x) => block(y >> 1, x >> 1));
    const small = toModelInput(big, 28, 28, 1);
    const expected = gray(28, 28, block).pixels;
    expect(small).toEqual(expected);
  });

  it("area-averages unequal pixels: (10+20+30+41)/4 = 25.25 → 25", () => {
    const img = { height: 2, width: 2, channels: 1, pixels: Uint8Array.from([10, 20, 30, 41]) };
    expect(Array.from(toModelInput(img, 1, 1, 1))).toEqual([25]);
  });

  it("enlarges bilinearly with aligned pixel centres: [0, 255] → [0, 64, 191, 255]", () => {
    const img = { height: 1, width: 2, channels: 1, pixels: Uint8Array.from([0, 255]) };
    expect(Array.from(toModelInput(img, 1, 4, 1))).toEqual([0, 64, 191, 255]);
  });

  it("converts RGB to luminance: 0.299·200 + 0.587·100 + 0.114·50 = 124.2 → 124", () => {
    const img = { height: 1, width: 1, channels: 3, pixels: Uint8Array.from([200, 100, 50]) };
    expect(Array.from(toModelInput(img, 1, 1, 1))).toEqual([124]);
    expect(Array.from(toModelInput(img, 1, 1, 3))).toEqual([200, 100, 50]);
    expect(() => toModelInput(img, 1, 1, 2)).toThrow(/2 input channels/);
  });

  it("composites PNG alpha onto black", () => {
    const png = new pngjs.PNG({ width: 2, height: 1 });
    png.data = Buffer.from([255, 255, 255, 255, /* fully transparent white: */ 255, 255, 255, 0]);
    const decoded = decodeImage(new Uint8Array(pngjs.PNG.sync.write(png)), "alpha.png");
    expect(Array.from(decoded.pixels)).toEqual([255, 255, 255, 0, 0, 0]);
  });

  it("decodes a JPEG to within ±8 of its source", () => {
    const width = 16;
    const height = 16;
    const rgba = new Uint8Array(width * height * 4);
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        rgba.set([x * 16, y * 16, 128, 255], (y * width + x) * 4);
      }
    }
    const file = jpeg.encode({ width, height, data: rgba }, 95).data;
    const decoded = decodeImage(new Uint8Array(file), "gradient.jpg");
    expect([decoded.height, decoded.width, decoded.channels]).toEqual([16, 16, 3]);
    for (let p = 0; p < width * height; p++) {
      for (let c = 0; c < 3; c++) expect(Math.abs(decoded.pixels[3 * p + c] - rgba[4 * p + c])).toBeLessThanOrEqual(8);
    }
  });

  it("rejects unknown formats naming the file and the supported formats", () => {
    expect(() => decodeImage(new TextEncoder().encode("hello"), "notes.txt")).toThrow(/^notes\.txt: .*PNG.*JPEG/);
  });

  it("reports a corrupt PNG cleanly", () => {
    const corrupt = Uint8Array.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 1, 2, 3, 4, 5]);
    expect(() => decodeImage(corrupt, "broken.png")).toThrow(/^broken\.png: cannot decode PNG: /);
  });
});

describe("loadImages", () => {
  it("loads a .u8 file of 3 images", () => {
    const file = join(dir, "three.u8");
    writeFileSync(file, new Uint8Array(3 * 28 * 28).map((_, i) => i % 251));
    const batch = loadImages(file, 28, 28, 1);
    expect(batch.count).toBe(3);
    expect(batch.pixels.length).toBe(3 * 784);
    expect(batch.names).toEqual(["three.u8#0", "three.u8#1", "three.u8#2"]);
  });

  it("rejects a .u8 file whose size is not a multiple of the image size", () => {
    const file = join(dir, "ragged.u8");
    writeFileSync(file, new Uint8Array(2 * 784 + 5));
    expect(() => loadImages(file, 28, 28, 1)).toThrow(/ragged\.u8.*784/);
  });

  it("loads a folder of images sorted by name, resized to the model", () => {
    const folder = join(dir, "folder");
    mkdirSync(folder);
    // Written out of order; each image is a flat 56×56 value so the order is visible after shrinking.
    writeFileSync(join(folder, "b.png"), encodeGrayPng(gray(56, 56, () => 20).pixels, 56, 56));
    writeFileSync(join(folder, "c.png"), encodeGrayPng(gray(56, 56, () => 30).pixels, 56, 56));
    writeFileSync(join(folder, "a.png"), encodeGrayPng(gray(56, 56, () => 10).pixels, 56, 56));
    writeFileSync(join(folder, "readme.txt"), "ignored");
    const batch = loadImages(folder, 28, 28, 1);
    expect(batch.names).toEqual(["a.png", "b.png", "c.png"]);
    expect([batch.pixels[0], batch.pixels[784], batch.pixels[2 * 784]]).toEqual([10, 20, 30]);
  });

  it("errors on an empty folder and a missing path", () => {
    const empty = join(dir, "empty");
    mkdirSync(empty);
    expect(() => loadImages(empty, 28, 28, 1)).toThrow(/empty.*no \.png/);
    const missing = join(dir, "nope.png");
    expect(() => loadImages(missing, 28, 28, 1)).toThrow(`${missing}: file not found`);
  });

  it("rejects an unknown file format mentioning PNG and JPEG", () => {
    const file = join(dir, "notes.txt");
    writeFileSync(file, "just some text");
    expect(() => loadImages(file, 28, 28, 1)).toThrow(/notes\.txt.*PNG.*JPEG/);
  });

  it("loads plain and gzipped idx files, and rejects a shape mismatch", () => {
    const data = new Uint8Array(2 * 28 * 28).map((_, i) => i % 256);
    const plain = join(dir, "two-idx3-ubyte");
    writeFileSync(plain, idxBytes([2, 28, 28], data));
    const gzipped = join(dir, "two-idx3-ubyte.gz");
    writeFileSync(gzipped, gzipSync(idxBytes([2, 28, 28], data)));
    for (const file of [plain, gzipped]) {
      const batch = loadImages(file, 28, 28, 1);
      expect(batch.count).toBe(2);
      expect(batch.pixels).toEqual(data);
    }
    expect(loadImages(plain, 28, 28, 1).names).toEqual(["two-idx3-ubyte#0", "two-idx3-ubyte#1"]);
    expect(() => loadImages(plain, 32, 32, 3)).toThrow(/two-idx3-ubyte.*\[2, 28, 28\].*32×32×3/);
  });
});

describe("committed MNIST samples", () => {
  const samplesDir = join("models", "mnist-cnn", "samples");

  it("decode to exactly the MNIST test images they were taken from", () => {
    const paths = mnistPaths();
    const test = readLabelledImages(paths.testImages, paths.testLabels);
    const files = readdirSync(samplesDir).filter((f) => f.endsWith(".png"));
    expect(files.length).toBe(10);
    const digits = new Set<number>();
    for (const file of files) {
      const match = /^digit-(\d)-test(\d+)\.png$/.exec(file);
      expect(match, file).not.toBeNull();
      const [label, index] = [Number(match![1]), Number(match![2])];
      digits.add(label);
      expect(test.labels[index]).toBe(label);
      // Each sample is the *first* test image with its label.
      expect(test.labels.indexOf(label)).toBe(index);
      const decoded = decodeImage(new Uint8Array(readFileSync(join(samplesDir, file))), file);
      expect(toModelInput(decoded, 28, 28, 1)).toEqual(test.pixels.subarray(index * 784, (index + 1) * 784));
    }
    expect(digits.size).toBe(10);
  });
});
