// Limits and safe reading for user-supplied input files: stat first, refuse what is not a regular file, read only what is needed.
import { closeSync, constants, fstatSync, opendirSync, openSync, readSync, statSync, type Stats } from "node:fs";
import { join } from "node:path";
import { KilnError } from "../compiler/errors.js";

/** A bad input file (image, idx, .u8, blob): the message names the file and what is supported. */
export class InputError extends KilnError {
  constructor(message: string) {
    super(message);
    this.name = "InputError";
  }
}

const MiB = 1024 * 1024;

/**
 * What Kiln reads from input files. An image is refused from its header when larger, before any pixel is decoded;
 * other files from their size (stat) before any byte is read.
 */
export const INPUT_LIMITS = {
  /** Width and height of a PNG/JPEG, each. */
  maxImageSide: 16384,
  /**
   * Width × height of a PNG/JPEG: 16 megapixels, e.g. 4096×4096 or a 12-MP phone photo. Decoding the largest
   * takes up to ~0.4 GB (PNG) or ~0.65 GB (JPEG, whose codec allocates for the declared size before it reads a scan).
   */
  maxImagePixels: 4096 * 4096,
  /** One PNG/JPEG file. */
  maxImageFileBytes: 64 * MiB,
  /** The pixels of one input (idx data, a .u8 file, a folder's images at the model's size; a gzipped idx inflated). */
  maxBatchBytes: 512 * MiB,
  /** Image files in one folder. */
  maxFolderImages: 10_000,
  /** One blob file. */
  maxBlobBytes: 64 * MiB,
} as const;

export function formatSize(bytes: number): string {
  if (bytes >= MiB) return `${Number((bytes / MiB).toFixed(1))} MiB`;
  if (bytes >= 1024) return `${Number((bytes / 1024).toFixed(1))} KiB`;
  return `${bytes} bytes`;
}

export function tooLarge(path: string, what: string, bytes: number, limit: number): InputError {
  return new InputError(`${path}: ${what} of ${formatSize(bytes)} is over the ${formatSize(limit)} limit`);
}

function describeKind(stats: Stats): string {
  if (stats.isDirectory()) return "a directory";
  if (stats.isFIFO()) return "a FIFO (named pipe)";
  if (stats.isCharacterDevice()) return "a character device";
  if (stats.isBlockDevice()) return "a block device";
  if (stats.isSocket()) return "a socket";
  return "something else";
}

function notRegular(path: string, stats: Stats): InputError {
  return new InputError(`${path}: not a regular file (it is ${describeKind(stats)}); give a file`);
}

/** stat() with the failure as a one-line InputError. */
export function statInput(path: string): Stats {
  try {
    return statSync(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === "ENOENT" || code === "ENOTDIR") throw new InputError(`${path}: file not found`);
    if (code === "EACCES" || code === "EPERM") throw new InputError(`${path}: permission denied`);
    throw new InputError(`${path}: cannot read (${code ?? (e as Error).message})`);
  }
}

/** An open regular file whose size was fixed when it was opened: reads never go past that size. */
export class InputFile {
  private constructor(readonly path: string, private readonly fd: number, readonly size: number) {}

  /**
   * Opens `path` only if it is a regular file. O_NONBLOCK keeps open() of a FIFO that appeared after the stat from
   * waiting for a writer; fstat then checks the file actually opened.
   */
  static open(path: string): InputFile {
    const stats = statInput(path);
    if (!stats.isFile()) throw notRegular(path, stats);
    let fd: number;
    try {
      fd = openSync(path, constants.O_RDONLY | (constants.O_NONBLOCK ?? 0));
    } catch (e) {
      throw new InputError(`${path}: cannot open (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
    }
    const opened = fstatSync(fd);
    if (!opened.isFile()) {
      closeSync(fd);
      throw notRegular(path, opened);
    }
    return new InputFile(path, fd, opened.size);
  }

  /** Up to `length` bytes from `offset`, never past the size seen at open; shorter only if the file shrank since. */
  read(offset: number, length: number): Uint8Array {
    const want = Math.max(0, Math.min(length, this.size - offset));
    const out = new Uint8Array(want);
    let got = 0;
    try {
      while (got < want) {
        const n = readSync(this.fd, out, got, want - got, offset + got);
        if (n === 0) break;
        got += n;
      }
    } catch (e) {
      throw new InputError(`${this.path}: cannot read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
    }
    return got === want ? out : out.subarray(0, got);
  }

  close(): void {
    closeSync(this.fd);
  }
}

export function withInputFile<T>(path: string, use: (file: InputFile) => T): T {
  const file = InputFile.open(path);
  try {
    return use(file);
  } finally {
    file.close();
  }
}

/** A whole regular file of at most `maxBytes` (`what` names it in the error: "an image file", "a blob"…). */
export function readInputFile(path: string, what: string, maxBytes: number): Uint8Array {
  return withInputFile(path, (file) => {
    if (file.size > maxBytes) throw tooLarge(path, what, file.size, maxBytes);
    return file.read(0, file.size);
  });
}

/**
 * The entries of a folder whose names match `accept`, sorted, as paths. Refuses more than `max` of them before
 * any is read; entries are checked when read (InputFile.open), so a FIFO named a.png is refused there.
 */
export function listFolder(path: string, accept: RegExp, max: number, what: string): string[] {
  let dir;
  try {
    dir = opendirSync(path);
  } catch (e) {
    throw new InputError(`${path}: cannot list the folder (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  const names: string[] = [];
  try {
    for (let entry = dir.readSync(); entry !== null; entry = dir.readSync()) {
      if (!accept.test(entry.name)) continue;
      names.push(entry.name);
      if (names.length > max) throw new InputError(`${path}: folder holds more than ${max} ${what} (the limit); split it`);
    }
  } catch (e) {
    if (e instanceof InputError) throw e;
    throw new InputError(`${path}: cannot list the folder (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  } finally {
    dir.closeSync();
  }
  return names.sort().map((name) => join(path, name));
}
