// Reads a WebAssembly binary's section layout, imports, memory limits and exports, bounds-checked, without compiling it.
import { BlobError } from "./errors.js";

export interface Section {
  id: number;
  /** Offset of the section id byte. */
  start: number;
  /** Offset of the contents (after the custom section's name, for custom sections). */
  contentStart: number;
  end: number;
  /** Custom sections only. */
  name?: string;
}

export interface MemoryLimits {
  minPages: number;
  /** null: the module declares no maximum, so it could grow to 4 GiB. */
  maxPages: number | null;
}

export const EXPORT_KIND = { function: 0, table: 1, memory: 2, global: 3 } as const;

export interface WasmLayout {
  sections: Section[];
  importCount: number;
  memories: MemoryLimits[];
  exports: Map<string, number>;
}

export const WASM_PAGE = 65536;
const CORRUPT = "not a valid WebAssembly module (is the file truncated or corrupt?)";

class Reader {
  constructor(readonly bytes: Uint8Array, public at: number, readonly end: number) {}

  byte(): number {
    if (this.at >= this.end) throw new BlobError(CORRUPT);
    return this.bytes[this.at++];
  }

  u32(): number {
    let result = 0;
    for (let shift = 0; shift < 35; shift += 7) {
      const b = this.byte();
      result += (b & 0x7f) * 2 ** shift;
      if ((b & 0x80) === 0) {
        if (result > 0xffffffff) throw new BlobError(CORRUPT);
        return result;
      }
    }
    throw new BlobError(CORRUPT);
  }

  name(): string {
    const length = this.u32();
    if (length > this.end - this.at) throw new BlobError(CORRUPT);
    const text = new TextDecoder("utf-8", { fatal: true });
    try {
      return text.decode(this.bytes.subarray(this.at, (this.at += length)));
    } catch {
      throw new BlobError(CORRUPT);
    }
  }
}

function readMemories(r: Reader): MemoryLimits[] {
  const count = r.u32();
  const out: MemoryLimits[] = [];
  for (let i = 0; i < count; i++) {
    const flags = r.byte();
    // 0: min only, 1: min and max. Shared (2, 3) and 64-bit memories (4…) are not Kiln blobs.
    if (flags > 1) throw new BlobError(`memory ${i} is ${flags & 2 ? "shared" : "64-bit"}; Kiln blobs have one plain 32-bit memory`);
    const minPages = r.u32();
    out.push({ minPages, maxPages: flags === 1 ? r.u32() : null });
  }
  return out;
}

function readExports(r: Reader): Map<string, number> {
  const count = r.u32();
  const out = new Map<string, number>();
  for (let i = 0; i < count; i++) {
    const name = r.name();
    const kind = r.byte();
    r.u32();
    out.set(name, kind);
  }
  return out;
}

/** The module's layout; a BlobError for anything that is not a well-formed sequence of sections. */
export function readWasmLayout(bytes: Uint8Array): WasmLayout {
  const magic = [0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00];
  if (bytes.length < 8 || magic.some((b, i) => bytes[i] !== b)) throw new BlobError(CORRUPT);
  const layout: WasmLayout = { sections: [], importCount: 0, memories: [], exports: new Map() };
  const r = new Reader(bytes, 8, bytes.length);
  while (r.at < bytes.length) {
    const start = r.at;
    const id = r.byte();
    const size = r.u32();
    if (size > bytes.length - r.at) throw new BlobError(CORRUPT);
    const end = r.at + size;
    const body = new Reader(bytes, r.at, end);
    const section: Section = { id, start, contentStart: r.at, end };
    if (id === 0) {
      section.name = body.name();
      section.contentStart = body.at;
    } else if (id === 2) {
      layout.importCount = body.u32();
    } else if (id === 5) {
      layout.memories = readMemories(body);
    } else if (id === 7) {
      layout.exports = readExports(body);
    }
    layout.sections.push(section);
    r.at = end;
  }
  return layout;
}
