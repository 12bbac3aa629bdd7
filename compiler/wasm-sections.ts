// Reads and writes WebAssembly custom sections directly in the binary (no toolchain needed at run time).
function leb128(n: number): number[] {
  const out: number[] = [];
  do {
    let byte = n & 0x7f;
    n >>>= 7;
    if (n !== 0) byte |= 0x80;
    out.push(byte);
  } while (n !== 0);
  return out;
}

export function addCustomSection(wasm: Uint8Array, name: string, contents: Uint8Array): Uint8Array<ArrayBuffer> {
  const nameBytes = new TextEncoder().encode(name);
  const body = [...leb128(nameBytes.length), ...nameBytes];
  const size = body.length + contents.length;
  const header = [0, ...leb128(size), ...body];
  const out = new Uint8Array(wasm.length + header.length + contents.length);
  out.set(wasm, 0);
  out.set(header, wasm.length);
  out.set(contents, wasm.length + header.length);
  return out;
}
