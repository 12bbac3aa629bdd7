// Reads tensors an ONNX model keeps in external data files (model.onnx + model.onnx.data), confined to the model's folder.
import { closeSync, fstatSync, openSync, readSync, realpathSync, statSync } from "node:fs";
import { dirname, isAbsolute, relative, resolve, sep } from "node:path";
import type { onnx } from "onnx-proto";
import { fileText, KilnError, MAX_SHOWN_PATH, quoteName } from "../../errors.js";

interface OpenFile { fd: number; size: number }

/** The data files opened while reading one model, by the location the model names; closed by closeExternalFiles. */
export type ExternalFiles = Map<string, OpenFile>;

const inside = (base: string, file: string): boolean => {
  const rel = relative(base, file);
  return rel !== "" && rel !== ".." && !rel.startsWith(`..${sep}`) && !isAbsolute(rel);
};

/**
 * Opens `location` (from the model) as a regular file inside the model's folder, also once symlinks are resolved:
 * a model must not make Kiln read /etc/passwd, /dev/zero or a file beside some other model.
 */
function openDataFile(modelPath: string, files: ExternalFiles, location: string, label: string): OpenFile {
  const known = files.get(location);
  if (known) return known;
  const where = `${modelPath}: ${label} is stored in external data file ${quoteName(location)}`;
  if (location === "" || location.includes("\0")) throw new KilnError(`${where}, which is not a file name`);
  const dir = resolve(dirname(modelPath));
  const file = resolve(dir, location);
  if (isAbsolute(location) || !inside(dir, file)) throw new KilnError(`${where}, outside the model's folder; data files must sit beside the .onnx file`);
  let real: string;
  try {
    real = realpathSync(file);
  } catch {
    throw new KilnError(`${where}, which was not found (looked for ${fileText(file, MAX_SHOWN_PATH)}); keep the data file beside the .onnx file`);
  }
  if (!inside(realpathSync(dir), real)) throw new KilnError(`${where}, which leads outside the model's folder (to ${fileText(real, MAX_SHOWN_PATH)})`);
  // stat before open: opening a FIFO or a device could block or never end.
  if (!statSync(real).isFile()) throw new KilnError(`${where}, which is not a regular file`);
  const fd = openSync(real, "r");
  const stats = fstatSync(fd);
  if (!stats.isFile()) {
    closeSync(fd);
    throw new KilnError(`${where}, which is not a regular file`);
  }
  const opened = { fd, size: stats.size };
  files.set(location, opened);
  return opened;
}

/** A decimal byte offset or length as ONNX writes it (a string); bounded so the sum with a size stays exact. */
function byteCount(modelPath: string, label: string, key: string, value: string): number {
  if (!/^\d{1,15}$/.test(value)) throw new KilnError(`${modelPath}: ${label} has external data ${key} ${quoteName(value)}, not a byte count`);
  return Number(value);
}

/** The `expected` bytes of an external tensor, after checking its location, offset and length against the file. */
export function readExternalBytes(modelPath: string, files: ExternalFiles, entries: onnx.IStringStringEntryProto[], expected: number, label: string): Uint8Array {
  const info = new Map<string, string>();
  for (const e of entries) info.set(e.key ?? "", e.value ?? "");
  const location = info.get("location");
  if (location === undefined) throw new KilnError(`${modelPath}: ${label} is marked as external data but names no location`);
  const offset = byteCount(modelPath, label, "offset", info.get("offset") ?? "0");
  const length = info.has("length") ? byteCount(modelPath, label, "length", info.get("length")!) : expected;
  if (length !== expected) throw new KilnError(`${modelPath}: ${label} declares ${length} bytes of external data, but its dims and type need ${expected}`);
  const file = openDataFile(modelPath, files, location, label);
  if (offset + length > file.size) {
    throw new KilnError(`${modelPath}: ${label} needs bytes ${offset}–${offset + length} of ${quoteName(location)}, which holds only ${file.size}: the data file is short or belongs to another export`);
  }
  const bytes = new Uint8Array(length);
  let done = 0;
  while (done < length) {
    const n = readSync(file.fd, bytes, done, length - done, offset + done);
    if (n === 0) throw new KilnError(`${modelPath}: ${quoteName(location)} ended while reading ${label}`);
    done += n;
  }
  return bytes;
}

export function closeExternalFiles(files: ExternalFiles): void {
  for (const f of files.values()) closeSync(f.fd);
  files.clear();
}
