// Consistent Overhead Byte Stuffing: removes every 0x00 from a frame so that 0x00 can delimit frames.
//
// The encoded form is a sequence of blocks: a code byte n (1…255) followed by n−1 non-zero bytes; a
// block with n < 255 stands for its bytes plus one zero, except at the very end; a block of 255 has no zero. Overhead is one byte
// per 254 bytes of data, plus one.

/** The largest encoded size of `length` bytes (without the delimiter). */
export function cobsMaxEncodedLength(length: number): number {
  return length + Math.floor(length / 254) + 1;
}

export function cobsEncode(data: Uint8Array): Uint8Array {
  const out = new Uint8Array(cobsMaxEncodedLength(data.length));
  let codeAt = 0, code = 1, o = 1;
  for (let i = 0; i < data.length; i++) {
    const byte = data[i];
    if (byte === 0) {
      out[codeAt] = code;
      codeAt = o++;
      code = 1;
      continue;
    }
    out[o++] = byte;
    if (++code === 0xff) {
      // A full block: the next block starts only if more data follows (canonical COBS).
      out[codeAt] = code;
      if (i + 1 === data.length) return out.subarray(0, o);
      codeAt = o++;
      code = 1;
    }
  }
  out[codeAt] = code;
  return out.subarray(0, o);
}

export class CobsError extends Error {
  override name = "CobsError";
}

/** Decodes one COBS block sequence (no delimiter); throws CobsError on a zero byte or a truncated block. */
export function cobsDecode(encoded: Uint8Array): Uint8Array {
  const out = new Uint8Array(encoded.length);
  let i = 0, o = 0;
  while (i < encoded.length) {
    const code = encoded[i++];
    if (code === 0) throw new CobsError("zero byte inside a COBS block");
    const end = i + code - 1;
    if (end > encoded.length) throw new CobsError("COBS block runs past the end of the frame");
    for (; i < end; i++) {
      if (encoded[i] === 0) throw new CobsError("zero byte inside a COBS block");
      out[o++] = encoded[i];
    }
    if (code < 0xff && i < encoded.length) out[o++] = 0;
  }
  return out.subarray(0, o);
}
