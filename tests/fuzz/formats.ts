// Format-aware mutations that keep checksums valid, so damage reaches past the first check: PNG chunks, JPEG
// frame headers, idx headers and WebAssembly sections.
import { createHash } from "node:crypto";
import { crc32 } from "../../firmware-host/crc32.js";
import type { Mutated } from "./mutate-bytes.js";
import type { Rng } from "./prng.js";

const HOSTILE_DIMENSIONS = [0, 1, 3, 255, 256, 65535, 20000, 60000, 2 ** 31 - 1, 2 ** 31, 2 ** 32 - 1];

function concat(parts: Uint8Array[]): Uint8Array {
  return Buffer.concat(parts);
}

// ---- PNG: signature, then chunks of length (u32 BE), type, data, CRC-32 over type + data.
interface Chunk { type: string; data: Uint8Array }

function pngChunks(bytes: Uint8Array): Chunk[] | null {
  const chunks: Chunk[] = [];
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let p = 8; p + 12 <= bytes.length;) {
    const length = view.getUint32(p, false);
    if (p + 12 + length > bytes.length) return null;
    chunks.push({ type: Buffer.from(bytes.subarray(p + 4, p + 8)).toString("latin1"), data: bytes.slice(p + 8, p + 8 + length) });
    p += 12 + length;
  }
  return chunks.length ? chunks : null;
}

function pngFile(signature: Uint8Array, chunks: Chunk[]): Uint8Array {
  return concat([signature.subarray(0, 8), ...chunks.map(({ type, data }) => {
    const out = new Uint8Array(12 + data.length);
    const view = new DataView(out.buffer);
    view.setUint32(0, data.length, false);
    out.set(Buffer.from(type, "latin1"), 4);
    out.set(data, 8);
    view.setUint32(8 + data.length, crc32(out.subarray(4, 8 + data.length)), false);
    return out;
  })]);
}

export function mutatePng(rng: Rng, bytes: Uint8Array): Mutated | null {
  const chunks = pngChunks(bytes);
  if (!chunks) return null;
  const kind = rng.pick(["ihdr", "data", "not-zlib", "drop", "duplicate", "bomb"]);
  const ihdr = chunks.find((c) => c.type === "IHDR");
  const idat = chunks.findIndex((c) => c.type === "IDAT");
  let what = kind;
  if (kind === "ihdr" && ihdr) {
    const view = new DataView(ihdr.data.buffer, ihdr.data.byteOffset);
    // IHDR: width u32, height u32, then one byte each for bit depth, colour type, compression, filter, interlace.
    const [field, offset] = rng.pick([["width", 0], ["height", 4], ["bit depth", 8], ["colour type", 9], ["interlace", 12]] as const);
    if (offset < 8) view.setUint32(offset, rng.pick(HOSTILE_DIMENSIONS), false);
    else ihdr.data[offset] = rng.pick([0, 1, 2, 3, 4, 6, 7, 8, 16, 255]);
    what = `IHDR ${field} = ${offset < 8 ? view.getUint32(offset) : ihdr.data[offset]}`;
  } else if (kind === "data") {
    const c = rng.pick(chunks);
    if (c.data.length) for (let i = rng.int(1, 4); i > 0; i--) c.data[rng.below(c.data.length)] = rng.below(256);
    what = `damage ${c.type} data (CRC fixed)`;
  } else if (kind === "not-zlib" && idat >= 0) {
    chunks[idat].data = rng.bytes(chunks[idat].data.length);
    what = "IDAT holds random bytes, not zlib (CRC fixed)";
  } else if (kind === "drop") {
    const i = rng.below(chunks.length);
    what = `drop chunk ${chunks[i].type}`;
    chunks.splice(i, 1);
  } else if (kind === "duplicate") {
    const i = rng.below(chunks.length);
    chunks.splice(i, 0, { type: chunks[i].type, data: chunks[i].data.slice() });
    what = `duplicate chunk ${chunks[i].type}`;
  } else if (ihdr) {
    const side = rng.pick([3000, 20000, 60000]);
    new DataView(ihdr.data.buffer, ihdr.data.byteOffset).setUint32(0, side, false);
    new DataView(ihdr.data.buffer, ihdr.data.byteOffset).setUint32(4, side, false);
    what = `decompression bomb: IHDR ${side}×${side}`;
  }
  return { bytes: pngFile(bytes, chunks), what };
}

// ---- JPEG: the frame header (SOF0/1/2) holds precision, height and width.
export function mutateJpeg(rng: Rng, bytes: Uint8Array): Mutated | null {
  for (let p = 2; p + 9 < bytes.length; p++) {
    if (bytes[p] !== 0xff || ![0xc0, 0xc1, 0xc2].includes(bytes[p + 1])) continue;
    const out = bytes.slice();
    const view = new DataView(out.buffer);
    const field = rng.pick(["height", "width", "both", "components"]);
    const value = rng.pick(HOSTILE_DIMENSIONS.filter((d) => d <= 65535));
    if (field === "components") out[p + 9] = rng.pick([0, 1, 2, 4, 255]);
    if (field === "height" || field === "both") view.setUint16(p + 5, value, false);
    if (field === "width" || field === "both") view.setUint16(p + 7, value, false);
    return { bytes: out, what: `SOF ${field} = ${field === "components" ? out[p + 9] : value}` };
  }
  return null;
}

// ---- idx: 0, 0, type, rank, then rank big-endian u32 dimensions.
export function mutateIdxHeader(rng: Rng, bytes: Uint8Array): Mutated | null {
  if (bytes.length < 8 || bytes[0] !== 0 || bytes[1] !== 0) return null;
  const out = bytes.slice();
  const rank = out[3];
  const field = rng.pick(["dim", "dim", "rank", "type"]);
  if (field === "dim" && rank > 0) {
    const i = rng.below(rank);
    const value = rng.pick(HOSTILE_DIMENSIONS);
    new DataView(out.buffer).setUint32(4 + 4 * i, value, false);
    return { bytes: out, what: `idx dimension ${i} = ${value}` };
  }
  if (field === "rank") out[3] = rng.pick([0, 1, 2, 4, 5, 200, 255]);
  else out[2] = rng.pick([0x09, 0x0b, 0x0c, 0x0d, 0x0e, 0x00, 0xff]);
  return { bytes: out, what: `idx ${field} = ${out[field === "rank" ? 3 : 2]}` };
}

// ---- WebAssembly: "\0asm", version, then sections of id (u8), size (LEB128), payload.
export interface Section { id: number; payload: Uint8Array }

function readLeb(bytes: Uint8Array, p: number): [number, number] {
  let value = 0, shift = 0;
  for (;;) {
    const b = bytes[p++];
    value += (b & 0x7f) * 2 ** shift;
    if (!(b & 0x80)) return [value, p];
    shift += 7;
  }
}

function leb(n: number): Uint8Array {
  const out: number[] = [];
  do {
    let b = n & 0x7f;
    n = Math.floor(n / 128);
    if (n) b |= 0x80;
    out.push(b);
  } while (n);
  return Uint8Array.from(out);
}

export function wasmSections(bytes: Uint8Array): Section[] {
  const sections: Section[] = [];
  for (let p = 8; p < bytes.length;) {
    const id = bytes[p];
    const [size, start] = readLeb(bytes, p + 1);
    sections.push({ id, payload: bytes.subarray(start, start + size) });
    p = start + size;
  }
  return sections;
}

export function wasmFile(header: Uint8Array, sections: Section[]): Uint8Array {
  return concat([header.subarray(0, 8), ...sections.flatMap((s) => [Uint8Array.of(s.id), leb(s.payload.length), s.payload])]);
}

/** The payload of a custom section: its name, then the contents. */
export function customSection(name: string, contents: Uint8Array): Section {
  const nameBytes = new TextEncoder().encode(name);
  return { id: 0, payload: concat([leb(nameBytes.length), nameBytes, contents]) };
}

export function customName(section: Section): string | null {
  if (section.id !== 0) return null;
  const [length, start] = readLeb(section.payload, 0);
  return new TextDecoder().decode(section.payload.subarray(start, start + length));
}

export function customContents(section: Section): Uint8Array {
  const [length, start] = readLeb(section.payload, 0);
  return section.payload.subarray(start + length);
}

const HASH_PREFIX = '{"contentHash":"sha256:';

/**
 * Fills in the manifest's content hash the way Kiln computes it (SHA-256 of every byte before the kiln.manifest
 * section, then the manifest text with the 64 hex digits left out), so a mutation gets past the hash to the checks
 * behind it. Returns null when the blob's last section is not a manifest that starts with its hash.
 */
export function resealBlob(bytes: Uint8Array): Uint8Array | null {
  let start = -1;
  for (let p = 8; p < bytes.length;) {
    const [size, payload] = readLeb(bytes, p + 1);
    if (payload + size > bytes.length) return null;
    if (payload + size === bytes.length) start = p;
    p = payload + size;
  }
  if (start < 0) return null;
  const section = wasmSections(bytes.subarray(start - 8)).at(-1);
  if (!section || customName(section) !== "kiln.manifest") return null;
  const text = Buffer.from(customContents(section)).toString("utf8");
  if (!text.startsWith(HASH_PREFIX) || text.length < HASH_PREFIX.length + 64) return null;
  const emptied = text.slice(0, HASH_PREFIX.length - "sha256:".length) + text.slice(HASH_PREFIX.length + 64);
  const hash = createHash("sha256").update(bytes.subarray(0, start)).update(emptied).digest("hex");
  const sealed = HASH_PREFIX + hash + text.slice(HASH_PREFIX.length + 64);
  return Buffer.concat([bytes.subarray(0, start), wasmFile(new Uint8Array(8), [customSection("kiln.manifest", new TextEncoder().encode(sealed))]).subarray(8)]);
}
