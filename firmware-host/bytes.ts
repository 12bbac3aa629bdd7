// Little-endian writer and reader for message bodies: u8/u16/u32/f64, raw bytes and u16-length strings.

export class BodyError extends Error {
  override name = "BodyError";
}

const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: true });

export class Writer {
  private parts: Uint8Array[] = [];
  private size = 0;

  private push(bytes: Uint8Array): this {
    this.parts.push(bytes);
    this.size += bytes.length;
    return this;
  }

  private scalar(bytes: number, set: (view: DataView) => void): this {
    const b = new Uint8Array(bytes);
    set(new DataView(b.buffer));
    return this.push(b);
  }

  u8(v: number): this { return this.scalar(1, (d) => d.setUint8(0, v)); }
  u16(v: number): this { return this.scalar(2, (d) => d.setUint16(0, v, true)); }
  u32(v: number): this { return this.scalar(4, (d) => d.setUint32(0, v >>> 0, true)); }
  f64(v: number): this { return this.scalar(8, (d) => d.setFloat64(0, v, true)); }
  bytes(b: Uint8Array): this { return this.push(b.slice()); }

  /** A string of at most `max` UTF-8 bytes (cut at a character boundary), prefixed by its u16 length. */
  str(s: string, max = 0xffff): this {
    let b = encoder.encode(s);
    if (b.length > max) {
      let cut = max;
      while (cut > 0 && (b[cut] & 0xc0) === 0x80) cut--;
      b = b.subarray(0, cut);
    }
    return this.u16(b.length).push(b.slice());
  }

  finish(): Uint8Array {
    const out = new Uint8Array(this.size);
    let o = 0;
    for (const p of this.parts) { out.set(p, o); o += p.length; }
    return out;
  }
}

export class Reader {
  private offset = 0;
  private readonly view: DataView;

  constructor(private readonly body: Uint8Array, private readonly what = "message") {
    this.view = new DataView(body.buffer, body.byteOffset, body.byteLength);
  }

  private need(n: number): number {
    if (this.offset + n > this.body.length) throw new BodyError(`${this.what}: body too short (${this.body.length} bytes)`);
    const at = this.offset;
    this.offset += n;
    return at;
  }

  u8(): number { return this.view.getUint8(this.need(1)); }
  u16(): number { return this.view.getUint16(this.need(2), true); }
  u32(): number { return this.view.getUint32(this.need(4), true); }
  f64(): number { return this.view.getFloat64(this.need(8), true); }
  bytes(n: number): Uint8Array { const at = this.need(n); return this.body.slice(at, at + n); }
  rest(): Uint8Array { return this.bytes(this.body.length - this.offset); }

  str(): string {
    const n = this.u16();
    try {
      return decoder.decode(this.bytes(n));
    } catch {
      throw new BodyError(`${this.what}: string is not valid UTF-8`);
    }
  }

  get remaining(): number { return this.body.length - this.offset; }

  /** Throws when bytes are left over: a body must be exactly what its message defines. */
  end(): void {
    if (this.remaining !== 0) throw new BodyError(`${this.what}: ${this.remaining} unexpected bytes at the end of the body`);
  }
}
