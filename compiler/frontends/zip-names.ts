// The entry names of a zip archive (from its central directory, bounded), to tell a PyTorch checkpoint from a Keras 3 file.
import { closeSync, openSync, readSync } from "node:fs";

/** The end-of-central-directory record is 22 bytes plus a comment of at most 65535. */
const EOCD_SEARCH = 22 + 65535;
/** Larger central directories are not read: the names are only for a hint. */
const MAX_DIRECTORY_BYTES = 4 * 1024 * 1024;
const MAX_NAMES = 10_000;

function readAt(fd: number, position: number, length: number): Uint8Array {
  const bytes = new Uint8Array(length);
  let done = 0;
  while (done < length) {
    const n = readSync(fd, bytes, done, length - done, position + done);
    if (n === 0) break;
    done += n;
  }
  return bytes.subarray(0, done);
}

const utf8 = new TextDecoder("utf-8");

/** Names from the central directory; [] when it is missing, damaged or too large (the caller then says "a zip archive"). */
function centralDirectoryNames(fd: number, size: number): string[] {
  const tailStart = Math.max(0, size - EOCD_SEARCH);
  const tail = readAt(fd, tailStart, size - tailStart);
  const view = new DataView(tail.buffer, tail.byteOffset, tail.byteLength);
  let eocd = -1;
  for (let i = tail.length - 22; i >= 0; i--) if (view.getUint32(i, true) === 0x06054b50) { eocd = i; break; }
  if (eocd < 0) return [];
  const directorySize = view.getUint32(eocd + 12, true), directoryOffset = view.getUint32(eocd + 16, true);
  if (directorySize > MAX_DIRECTORY_BYTES || directoryOffset + directorySize > size) return [];
  const directory = readAt(fd, directoryOffset, directorySize);
  const d = new DataView(directory.buffer, directory.byteOffset, directory.byteLength);
  const names: string[] = [];
  for (let at = 0; at + 46 <= directory.length && names.length < MAX_NAMES;) {
    if (d.getUint32(at, true) !== 0x02014b50) break;
    const nameLength = d.getUint16(at + 28, true), extra = d.getUint16(at + 30, true), comment = d.getUint16(at + 32, true);
    if (at + 46 + nameLength > directory.length) break;
    names.push(utf8.decode(directory.subarray(at + 46, at + 46 + nameLength)));
    at += 46 + nameLength + extra + comment;
  }
  return names;
}

/** The first local file header's name: enough when the central directory cannot be read (a truncated download). */
function firstEntryName(fd: number): string[] {
  const header = readAt(fd, 0, 30 + 1024);
  if (header.length < 30) return [];
  const view = new DataView(header.buffer, header.byteOffset, header.byteLength);
  const nameLength = view.getUint16(26, true);
  return 30 + nameLength <= header.length ? [utf8.decode(header.subarray(30, 30 + nameLength))] : [];
}

/** The names of the entries of the zip at `path` (`size` bytes), as far as they can be read cheaply. */
export function zipEntryNames(path: string, size: number): string[] {
  const fd = openSync(path, "r");
  try {
    const names = centralDirectoryNames(fd, size);
    return names.length > 0 ? names : firstEntryName(fd);
  } finally {
    closeSync(fd);
  }
}
