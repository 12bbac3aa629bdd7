// Hostile input files (issue 11): image decompression bombs, PNG pixel data, unbounded reads (FIFOs, devices, huge or lying files).
import { describe, expect, it } from "vitest";
import { spawnSync } from "node:child_process";
import { mkdirSync, readFileSync, symlinkSync, truncateSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { deflateSync, gzipSync } from "node:zlib";
import { KilnError } from "../compiler/errors.js";
import { decodeImage, loadImages } from "../io/images.js";
import { parseIdx, readIdx, readLabelledImages } from "../io/idx.js";
import { INPUT_LIMITS } from "../io/input-file.js";
import { requireCommand } from "./require-tool.js";
import { expectOneLineError, grayScanlines, useHostileFixture, idxBytes, jpegDeclaring, kiln, kilnErrorOf, PNG_SIGNATURE, pngChunk, pngFile } from "./hostile-input-helpers.js";

const at = useHostileFixture("kiln-hostile-input-");

describe("image decompression bombs are refused from their headers", () => {
  it("builds PNGs the decoder accepts (the fixtures below differ from this one only where stated)", () => {
    const file = pngFile(3, 2, deflateSync(grayScanlines(3, 2, (y, x) => 10 * (3 * y + x))));
    expect(Array.from(decodeImage(file, "ok.png").pixels.filter((_, i) => i % 3 === 0))).toEqual([0, 10, 20, 30, 40, 50]);
  });

  it("refuses a 68-byte PNG declaring 60000×60000, naming the file, the size and the limit", () => {
    const bomb = pngFile(60000, 60000, deflateSync(new Uint8Array(16)));
    expect(bomb.length).toBeLessThan(100);
    const err = kilnErrorOf(() => decodeImage(bomb, "bomb.png"), "bomb.png");
    expect(err.message).toMatch(/60000×60000/);
    expect(err.message).toContain(`${INPUT_LIMITS.maxImageSide}`);
  });

  it("refuses 20000×20000 and a 25-megapixel 5000×5000 PNG, and any side over the limit", () => {
    for (const [w, h] of [[20000, 20000], [5000, 5000], [INPUT_LIMITS.maxImageSide + 1, 1], [1, INPUT_LIMITS.maxImageSide + 1]]) {
      const err = kilnErrorOf(() => decodeImage(pngFile(w, h, deflateSync(new Uint8Array(8))), "big.png"), "big.png");
      expect(err.message).toContain(`${w}×${h}`);
    }
    expect(INPUT_LIMITS.maxImagePixels).toBe(4096 * 4096);
  });

  it("still decodes a long thin PNG at the side limit", () => {
    const side = INPUT_LIMITS.maxImageSide;
    const img = decodeImage(pngFile(side, 1, deflateSync(grayScanlines(side, 1, (_y, x) => x % 256))), "thin.png");
    expect([img.width, img.height, img.pixels[3 * 300]]).toEqual([side, 1, 300 % 256]);
  });

  it("refuses a JPEG whose frame header declares 60000×60000 or 25 megapixels", () => {
    for (const [w, h] of [[60000, 60000], [5000, 5000]]) {
      const err = kilnErrorOf(() => decodeImage(jpegDeclaring(w, h), "bomb.jpg"), "bomb.jpg");
      expect(err.message).toContain(`${w}×${h}`);
    }
    expect(decodeImage(jpegDeclaring(16, 16), "fine.jpg").width).toBe(16);
  });

  it("kiln run refuses the PNG bomb in one line without using the memory it asks for", async () => {
    writeFileSync(at("bomb.png"), pngFile(60000, 60000, deflateSync(new Uint8Array(16))));
    const line = expectOneLineError(await kiln(["run", at("small.wasm"), "--input", at("bomb.png")]), 1, at("bomb.png"));
    expect(line).toMatch(/60000×60000/);
  });
});

describe("PNG pixel data must be what the header promises", () => {
  it("refuses an IDAT that is not zlib data instead of reading a black image", () => {
    const err = kilnErrorOf(() => decodeImage(pngFile(4, 4, new TextEncoder().encode("this is not zlib data")), "notzlib.png"), "notzlib.png");
    expect(err.message).toMatch(/pixel data/);
  });

  it("refuses pixel data shorter than the image (2 of 4 rows)", () => {
    const err = kilnErrorOf(() => decodeImage(pngFile(4, 4, deflateSync(grayScanlines(4, 2, () => 255))), "short.png"), "short.png");
    expect(err.message).toMatch(/pixel data/);
  });

  it("refuses a PNG with no IDAT chunk, an unknown colour type and a first chunk that is not IHDR", () => {
    const good = pngFile(2, 2, deflateSync(grayScanlines(2, 2, () => 1)));
    const noIdat = Buffer.concat([good.subarray(0, 33), pngChunk("IEND", new Uint8Array(0))]);
    kilnErrorOf(() => decodeImage(noIdat, "noidat.png"), "noidat.png");
    kilnErrorOf(() => decodeImage(pngFile(2, 2, deflateSync(grayScanlines(2, 2, () => 1)), 5), "type5.png"), "type5.png");
    const notIhdr = Buffer.concat([PNG_SIGNATURE, pngChunk("tEXt", new TextEncoder().encode("a\0b")), good.subarray(8)]);
    kilnErrorOf(() => decodeImage(notIhdr, "late-ihdr.png"), "late-ihdr.png");
  });
});
describe("input files are checked with stat before they are read, and read only as far as needed", () => {
  const fifo = requireCommand("mkfifo", "apt-get install coreutils");

  it("refuses /dev/zero (and a .u8 link to it) without reading it", async () => {
    symlinkSync("/dev/zero", at("zero.u8"));
    for (const input of ["/dev/zero", at("zero.u8")]) {
      const line = expectOneLineError(await kiln(["run", at("small.wasm"), "--input", input]), 1, input);
      expect(line).toMatch(/not a regular file/);
    }
    const line = expectOneLineError(await kiln(["eval", at("small.wasm"), "--images", "/dev/zero", "--labels", "/dev/zero"]), 1, "/dev/zero");
    expect(line).toMatch(/not a regular file/);
  });

  it.skipIf(!fifo.ok)(`refuses a FIFO as an image, a .u8, an idx and inside a folder instead of waiting forever${fifo.note}`, async () => {
    mkdirSync(at("fifo-folder"));
    for (const path of [at("pipe.u8"), at("pipe.png"), at("pipe-idx3-ubyte"), join(at("fifo-folder"), "a.png")]) {
      expect(spawnSync("mkfifo", [path]).status).toBe(0);
    }
    for (const input of [at("pipe.u8"), at("pipe.png"), at("fifo-folder")]) {
      const line = expectOneLineError(await kiln(["run", at("small.wasm"), "--input", input], { timeoutMs: 30_000 }), 1, input);
      expect(line).toMatch(/not a regular file/);
    }
    const r = await kiln(["eval", at("small.wasm"), "--images", at("pipe-idx3-ubyte"), "--labels", at("pipe-idx3-ubyte")], { timeoutMs: 30_000 });
    expect(expectOneLineError(r, 1, at("pipe-idx3-ubyte"))).toMatch(/not a regular file/);
  });

  it("refuses a 2.1 GB .u8 from its size, before reading it", async () => {
    writeFileSync(at("huge.u8"), new Uint8Array(0));
    truncateSync(at("huge.u8"), 2.1e9 - (2.1e9 % 64)); // sparse: a multiple of 8×8×1, takes no disk
    const line = expectOneLineError(await kiln(["run", at("small.wasm"), "--input", at("huge.u8")]), 1, at("huge.u8"));
    expect(line).toMatch(/limit/);
    expect(() => loadImages(at("huge.u8"), 8, 8, 1)).toThrow(KilnError);
  });

  it("reads only the images asked for from a plain idx file, even when the file is mostly hole", () => {
    const path = at("sparse-idx3-ubyte");
    writeFileSync(path, idxBytes([1_000_000, 16, 16], new Uint8Array(2 * 256).fill(7)));
    truncateSync(path, 16 + 1_000_000 * 256);
    const two = readIdx(path, 2);
    expect(two.shape).toEqual([2, 16, 16]);
    expect(two.data.every((v) => v === 7)).toBe(true);
  });

  it("refuses idx headers with no dimensions, too many, a zero dimension or a size past the limit", () => {
    // The last pattern is for reading only the first 10 items: a file too large as a whole may still give those.
    const cases: [string, Uint8Array, RegExp, RegExp][] = [
      ["rank0.idx", idxBytes([]), /rank 0 /, /rank 0 /],
      ["rank9.idx", idxBytes([1, 1, 1, 1, 1, 1, 1, 1, 1], new Uint8Array(1)), /rank 9 /, /rank 9 /],
      ["zero.idx", idxBytes([0, 28, 28]), /dimension of 0/, /dimension of 0/],
      ["huge.idx", idxBytes([4_000_000_000, 4_000_000_000, 28]), /limit/, /limit/],
      ["past-limit.idx", idxBytes([INPUT_LIMITS.maxBatchBytes / 64 + 1, 8, 8]), /limit/, /truncated/],
    ];
    for (const [name, bytes, whole, first10] of cases) {
      expect(kilnErrorOf(() => parseIdx(bytes, name), name).message).toMatch(whole);
      writeFileSync(at(name), bytes);
      expect(kilnErrorOf(() => readIdx(at(name)), name).message).toMatch(whole);
      expect(kilnErrorOf(() => readIdx(at(name), 10), name).message).toMatch(first10);
    }
  });

  it("says a file declaring 1e8 images but holding a few is truncated, without allocating for the declared size", () => {
    writeFileSync(at("liar-idx3-ubyte"), idxBytes([100_000_000, 1, 1], new Uint8Array(10)));
    expect(kilnErrorOf(() => readIdx(at("liar-idx3-ubyte")), "liar-idx3-ubyte").message).toMatch(/truncated/);
    expect(kilnErrorOf(() => readIdx(at("liar-idx3-ubyte"), 100), "liar-idx3-ubyte").message).toMatch(/truncated/);
  });

  it("stops inflating a gzipped idx at the size its gzip trailer states (a 640 MiB gzip bomb)", async () => {
    const member = gzipSync(new Uint8Array(16 << 20));
    const first = gzipSync(idxBytes([1, 8, 8], new Uint8Array(64)));
    const bomb = Buffer.concat([first, ...Array.from({ length: 40 }, () => member)]);
    writeFileSync(at("bomb-idx3-ubyte.gz"), bomb);
    writeFileSync(at("one-label-idx1-ubyte"), idxBytes([1], new Uint8Array([0])));
    const r = await kiln(["eval", at("small.wasm"), "--images", at("bomb-idx3-ubyte.gz"), "--labels", at("one-label-idx1-ubyte")]);
    expectOneLineError(r, 1, at("bomb-idx3-ubyte.gz"));
    expect(r.peakRssMiB).toBeLessThan(512);
  });

  it("checks folders: a directory named like an image is refused, and so are more files than the limit", () => {
    mkdirSync(at("dir-folder"));
    mkdirSync(join(at("dir-folder"), "b.png"));
    writeFileSync(join(at("dir-folder"), "a.png"), readFileSync(at("digit.png")));
    expect(kilnErrorOf(() => loadImages(at("dir-folder"), 8, 8, 1), "b.png").message).toMatch(/not a regular file/);
    mkdirSync(at("crowd"));
    for (let i = 0; i <= INPUT_LIMITS.maxFolderImages; i++) writeFileSync(join(at("crowd"), `${i}.png`), "");
    expect(kilnErrorOf(() => loadImages(at("crowd"), 8, 8, 1), "crowd").message).toContain(String(INPUT_LIMITS.maxFolderImages));
  });

  it("throws only Kiln errors for files that are missing, empty or of no known kind", () => {
    writeFileSync(at("empty.png"), "");
    writeFileSync(at("empty.u8"), "");
    for (const name of ["missing.png", "empty.png", "empty.u8"]) kilnErrorOf(() => loadImages(at(name), 8, 8, 1), name);
    kilnErrorOf(() => readLabelledImages(at("missing-idx3"), at("missing-idx1")), "missing-idx3");
    kilnErrorOf(() => loadImages(at("digit.png"), 8, 8, 2), "digit.png");
  });
});
