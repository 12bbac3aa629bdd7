// The frame codec: version, type, seq, body and CRC-32, COBS-encoded between 0x00 delimiters (docs/protocol.md).
import { CobsError, cobsDecode, cobsEncode, cobsMaxEncodedLength } from "./cobs.js";
import { crc32 } from "./crc32.js";

export const PROTOCOL_VERSION = 1;
/** version u8, type u8, seq u16. */
export const HEADER_BYTES = 4;
export const CRC_BYTES = 4;
export const FRAME_OVERHEAD = HEADER_BYTES + CRC_BYTES;
/** Both sides send at most this much until HELLO has negotiated a frame size. */
export const DEFAULT_MAX_FRAME = 256;
/** The largest frame size either side may announce. */
export const LIMIT_MAX_FRAME = 65536;
/** Seq 0 in a reply: not an answer to a particular request (a NAK for an unreadable frame). */
export const SEQ_NONE = 0;

export interface Frame {
  version: number;
  type: number;
  seq: number;
  body: Uint8Array;
  /** The frame's CRC, which also identifies a retransmission of the same request. */
  crc: number;
}

/** Builds the decoded frame: header, body, CRC. */
export function buildFrame(type: number, seq: number, body: Uint8Array, version = PROTOCOL_VERSION): Uint8Array {
  const frame = new Uint8Array(FRAME_OVERHEAD + body.length);
  const view = new DataView(frame.buffer);
  frame[0] = version;
  frame[1] = type;
  view.setUint16(2, seq & 0xffff, true);
  frame.set(body, HEADER_BYTES);
  view.setUint32(HEADER_BYTES + body.length, crc32(frame.subarray(0, HEADER_BYTES + body.length)), true);
  return frame;
}

/**
 * The bytes to put on the wire for a frame: 0x00, COBS(frame), 0x00, 0x00. The leading zero ends whatever noise
 * the receiver holds; the second trailing zero still ends the frame when the first is damaged, so a damaged
 * delimiter costs a NAK instead of a timeout (an empty frame is ignored).
 */
export function encodeFrame(type: number, seq: number, body: Uint8Array, version = PROTOCOL_VERSION): Uint8Array {
  return wrapFrame(buildFrame(type, seq, body, version));
}

export function wrapFrame(frame: Uint8Array): Uint8Array {
  const encoded = cobsEncode(frame);
  const wire = new Uint8Array(encoded.length + 3);
  wire.set(encoded, 1);
  return wire;
}

export type FrameFault = "cobs" | "short" | "crc" | "too-long";

/** Parses a decoded frame; returns the fault when it is not a valid frame. */
export function parseFrame(frame: Uint8Array): Frame | FrameFault {
  if (frame.length < FRAME_OVERHEAD) return "short";
  const view = new DataView(frame.buffer, frame.byteOffset, frame.byteLength);
  const end = frame.length - CRC_BYTES;
  const crc = view.getUint32(end, true);
  if (crc32(frame.subarray(0, end)) !== crc) return "crc";
  return { version: frame[0], type: frame[1], seq: view.getUint16(2, true), body: frame.slice(HEADER_BYTES, end), crc };
}

export interface DecoderStats {
  frames: number;
  bad: Record<FrameFault, number>;
}

/**
 * Splits a byte stream at 0x00 delimiters and yields valid frames; everything else is counted and
 * reported through `onBad`. Frames longer than `maxFrame` are skipped up to the next delimiter.
 */
export class FrameDecoder {
  readonly stats: DecoderStats = { frames: 0, bad: { cobs: 0, short: 0, crc: 0, "too-long": 0 } };
  private buffer: Uint8Array;
  private length = 0;
  private overflow = false;
  private stopped = false;

  constructor(
    private readonly onFrame: (frame: Frame) => void,
    private readonly onBad: (fault: FrameFault) => void = () => {},
    readonly maxFrame = LIMIT_MAX_FRAME,
  ) {
    this.buffer = new Uint8Array(cobsMaxEncodedLength(maxFrame));
  }

  push(chunk: Uint8Array): void {
    for (let i = 0; i < chunk.length && !this.stopped; i++) {
      const byte = chunk[i];
      if (byte !== 0) {
        if (this.length < this.buffer.length) this.buffer[this.length++] = byte;
        else this.overflow = true;
        continue;
      }
      this.finish();
    }
  }

  /** Decodes nothing more, not even the rest of the chunk being pushed. */
  stop(): void {
    this.stopped = true;
  }

  /** Forgets a partly received frame (after a reconnect). */
  reset(): void {
    this.length = 0;
    this.overflow = false;
  }

  private finish(): void {
    const { length, overflow } = this;
    this.reset();
    if (overflow) return this.bad("too-long");
    if (length === 0) return;
    let decoded: Uint8Array;
    try {
      decoded = cobsDecode(this.buffer.subarray(0, length));
    } catch (e) {
      if (e instanceof CobsError) return this.bad("cobs");
      throw e;
    }
    if (decoded.length > this.maxFrame) return this.bad("too-long");
    const frame = parseFrame(decoded);
    if (typeof frame === "string") return this.bad(frame);
    this.stats.frames++;
    this.onFrame(frame);
  }

  private bad(fault: FrameFault): void {
    this.stats.bad[fault]++;
    this.onBad(fault);
  }
}
