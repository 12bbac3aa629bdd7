// Checks PNG and JPEG files before they are decoded: declared size within limits, PNG pixel data exactly what the header promises.
import { inflateSync } from "node:zlib";
import { INPUT_LIMITS, InputError } from "./input-file.js";

/** Refuses an empty image or one over the limits, from the size its header declares. */
export function checkDeclaredSize(width: number, height: number, source: string, format: string): void {
  if (width < 1 || height < 1) throw new InputError(`${source}: ${format} header declares a ${width}×${height} image; an image needs at least one pixel`);
  if (width > INPUT_LIMITS.maxImageSide || height > INPUT_LIMITS.maxImageSide || width * height > INPUT_LIMITS.maxImagePixels) {
    throw new InputError(`${source}: ${format} header declares ${width}×${height} pixels; images may be at most ${INPUT_LIMITS.maxImageSide} pixels `
      + `a side and ${INPUT_LIMITS.maxImagePixels / (1024 * 1024)} megapixels (e.g. 4096×4096)`);
  }
}

/** Samples per pixel for each PNG colour type, and the bit depths each allows (PNG spec, table 11.1). */
const PNG_COLOR_TYPES: Record<number, { samples: number; depths: number[] }> = {
  0: { samples: 1, depths: [1, 2, 4, 8, 16] },
  2: { samples: 3, depths: [8, 16] },
  3: { samples: 1, depths: [1, 2, 4, 8] },
  4: { samples: 2, depths: [8, 16] },
  6: { samples: 4, depths: [8, 16] },
};

/** Adam7: the seven passes' first column, first row, column step and row step. */
const ADAM7 = [[0, 0, 8, 8], [4, 0, 8, 8], [0, 4, 4, 8], [2, 0, 4, 4], [0, 2, 2, 4], [1, 0, 2, 2], [0, 1, 1, 2]];

/** Bytes of filtered scanlines (a filter byte per row) for an image or one interlace pass. */
function scanlineBytes(width: number, height: number, bitsPerPixel: number): number {
  return width === 0 || height === 0 ? 0 : height * (1 + Math.ceil((width * bitsPerPixel) / 8));
}

function pngDataBytes(width: number, height: number, bitsPerPixel: number, interlaced: boolean): number {
  if (!interlaced) return scanlineBytes(width, height, bitsPerPixel);
  return ADAM7.reduce((sum, [x0, y0, dx, dy]) =>
    sum + scanlineBytes(Math.ceil(Math.max(0, width - x0) / dx), Math.ceil(Math.max(0, height - y0) / dy), bitsPerPixel), 0);
}

/**
 * Walks the chunks of a PNG (signature already matched), checks IHDR and the declared size, and inflates the
 * IDAT data — at most as many bytes as the header promises — to check it is zlib data of exactly that length.
 * The codec reads non-zlib or short pixel data as a black image without complaint.
 */
export function checkPng(bytes: Uint8Array, source: string): void {
  const fail = (what: string): InputError => new InputError(`${source}: cannot decode PNG: ${what}`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let offset = 8;
  const idat: Uint8Array[] = [];
  let header: { width: number; height: number; bitsPerPixel: number; interlaced: boolean } | null = null;
  while (offset + 8 <= bytes.length) {
    const length = view.getUint32(offset, false);
    const type = String.fromCharCode(...bytes.subarray(offset + 4, offset + 8));
    const start = offset + 8;
    if (length > bytes.length - start - 4) throw fail(`chunk ${JSON.stringify(type)} runs past the end of the file (truncated)`);
    if (header === null) {
      if (type !== "IHDR" || length !== 13) throw fail("the first chunk is not a 13-byte IHDR header");
      const width = view.getUint32(start, false), height = view.getUint32(start + 4, false);
      const depth = bytes[start + 8], colorType = bytes[start + 9], interlace = bytes[start + 12];
      const color = PNG_COLOR_TYPES[colorType];
      if (!color) throw fail(`colour type ${colorType} does not exist (0, 2, 3, 4 or 6)`);
      if (!color.depths.includes(depth)) throw fail(`bit depth ${depth} is not allowed with colour type ${colorType} (${color.depths.join(", ")})`);
      if (bytes[start + 10] !== 0 || bytes[start + 11] !== 0) throw fail("unknown compression or filter method (only 0)");
      if (interlace > 1) throw fail(`unknown interlace method ${interlace} (0 or 1)`);
      checkDeclaredSize(width, height, source, "PNG");
      header = { width, height, bitsPerPixel: depth * color.samples, interlaced: interlace === 1 };
    } else if (type === "IDAT") {
      idat.push(bytes.subarray(start, start + length));
    } else if (type === "IEND") {
      break;
    }
    offset = start + length + 4;
  }
  if (header === null) throw fail("no IHDR header (truncated)");
  if (idat.length === 0) throw fail("no IDAT chunk: the file holds no pixel data");
  const expected = pngDataBytes(header.width, header.height, header.bitsPerPixel, header.interlaced);
  let inflated: Uint8Array;
  try {
    // One byte more than needed, so that too much data is told apart from exactly enough.
    inflated = inflateSync(Buffer.concat(idat), { maxOutputLength: expected + 1 });
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    if (err.code === "ERR_BUFFER_TOO_LARGE") throw fail(`the pixel data holds more than the ${expected} bytes a ${header.width}×${header.height} image needs`);
    throw fail(`the pixel data is not valid zlib data (${err.message})`);
  }
  if (inflated.length !== expected) {
    throw fail(`the pixel data holds ${inflated.length} bytes; a ${header.width}×${header.height} image needs ${expected}`);
  }
}

/** JPEG frame-header (SOFn) markers: C0–CF except C4 (DHT), C8 (reserved) and CC (DAC). */
function isFrameHeader(marker: number): boolean {
  return marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc;
}

/** Walks the JPEG's marker segments (SOI already matched) to the frame header and checks the size it declares. */
export function checkJpeg(bytes: Uint8Array, source: string): void {
  const fail = (what: string): InputError => new InputError(`${source}: cannot decode JPEG: ${what}`);
  let offset = 2;
  while (offset + 4 <= bytes.length) {
    if (bytes[offset] !== 0xff) throw fail(`expected a marker at byte ${offset}`);
    const marker = bytes[offset + 1];
    // Fill bytes, and markers that stand alone without a length (TEM, RSTn).
    if (marker === 0xff) { offset += 1; continue; }
    if (marker === 0x01 || (marker >= 0xd0 && marker <= 0xd7)) { offset += 2; continue; }
    if (marker === 0xd9 || marker === 0xda) break;
    const length = (bytes[offset + 2] << 8) | bytes[offset + 3];
    if (length < 2 || offset + 2 + length > bytes.length) throw fail(`marker segment at byte ${offset} runs past the end of the file (truncated)`);
    if (isFrameHeader(marker)) {
      if (length < 8) throw fail("frame header too short");
      const height = (bytes[offset + 5] << 8) | bytes[offset + 6];
      const width = (bytes[offset + 7] << 8) | bytes[offset + 8];
      checkDeclaredSize(width, height, source, "JPEG");
      return;
    }
    offset += 2 + length;
  }
  throw fail("no frame header (SOF) before the image data");
}
