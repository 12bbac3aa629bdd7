// A resumable model upload in one session: LOAD_BEGIN, adaptive-size chunks, LOAD_COMMIT (docs/protocol.md, "Upload").
import { createHash } from "node:crypto";
import { expectKind, type DeviceClient } from "./client.js";
import { crc32 } from "./crc32.js";
import { LinkError, ProtocolError } from "./errors.js";
import { toHex } from "./messages.js";

/** The smallest chunk the upload shrinks to on a bad link. */
export const MIN_CHUNK = 32;
/** Clean acknowledgements before the chunk size doubles again. */
const GROW_AFTER = 4;
/** COMMIT checks, compiles and instantiates the blob on the device. */
export const COMMIT_MS = 10_000;

export interface UploadOptions {
  name?: string;
  /** Called with the number of bytes the device has acknowledged. */
  onProgress?: (acked: number, total: number) => void;
  /** Failed chunk attempts in a row before the session is given up (default 12). */
  maxFailures?: number;
  /** Chunk size to start with (a previous session's last one); default the largest. */
  initialChunk?: number;
  /** Largest chunk to send (default: what the frame allows). */
  maxChunk?: number;
}

export interface UploadResult {
  modelId: string;
  size: number;
  name: string;
  /** Where this session started: > 0 when the device already held part of the blob. */
  resumedFrom: number;
  chunks: number;
  failedAttempts: number;
  /** Time the device spent checking and swapping the blob. */
  verifyUs: number;
  /** The device already ran this blob: nothing was uploaded. */
  alreadyActive: boolean;
}

/** The session failed on the link; the device had acknowledged `acked` bytes (the next session resumes there). */
export class UploadError extends LinkError {
  /** `chunk`: the chunk size the session had come down to, where the next session starts. */
  constructor(message: string, readonly acked: number, readonly chunk: number) {
    super(message);
  }
}

export function sha256(bytes: Uint8Array): Uint8Array {
  return new Uint8Array(createHash("sha256").update(bytes).digest());
}

export async function uploadBlob(client: DeviceClient, blob: Uint8Array, options: UploadOptions = {}): Promise<UploadResult> {
  const size = blob.length, hash = sha256(blob), name = options.name ?? "";
  if (client.device?.modelId === toHex(hash)) {
    // Already the active model: COMMIT of the active blob is answered LOAD_DONE without another upload.
    const done = expectKind(await client.request({ kind: "loadCommit", sha256: hash }, { deviceMs: client.workAllowance(COMMIT_MS) }), "loadDone");
    return { modelId: done.modelId, size: done.size, name: done.name, resumedFrom: size, chunks: 0, failedAttempts: 0, verifyUs: done.verifyUs, alreadyActive: true };
  }
  const ready = expectKind(await client.request({ kind: "loadBegin", size, sha256: hash, crc32: crc32(blob), name }), "loadReady");
  if (ready.offset > size) throw new ProtocolError(`LOAD_READY: the device holds ${ready.offset} bytes of a ${size}-byte blob`);
  let offset = ready.offset;
  const maxChunk = Math.max(MIN_CHUNK, Math.min(options.maxChunk ?? Infinity, client.maxBody - 4));
  const maxFailures = options.maxFailures ?? 12;
  let chunk = Math.max(MIN_CHUNK, Math.min(maxChunk, options.initialChunk ?? maxChunk, size)), streak = 0, failures = 0, failedAttempts = 0, chunks = 0;
  options.onProgress?.(offset, size);
  while (offset < size) {
    const data = blob.subarray(offset, offset + chunk);
    let reply;
    try {
      reply = await client.request({ kind: "loadChunk", offset, data }, { failFast: true });
    } catch (e) {
      if (!(e instanceof LinkError)) throw e;
      if (client.link.closed) throw new UploadError(`upload interrupted at byte ${offset} of ${size}: ${e.message}`, offset, chunk);
      failedAttempts++;
      streak = 0;
      chunk = Math.max(MIN_CHUNK, data.length >> 1);
      if (++failures >= maxFailures) {
        throw new UploadError(`upload stalled at byte ${offset} of ${size}: ${failures} chunks in a row got no clean answer (last: ${e.message})`, offset, chunk);
      }
      continue;
    }
    chunks++;
    const next = reply.kind === "nak" ? reply.expected : expectKind(reply, "loadAck").next;
    if (next > size) throw new ProtocolError(`the device acknowledged byte ${next} of a ${size}-byte blob`);
    if (reply.kind === "nak") {
      failedAttempts++;
      if (++failures >= maxFailures) throw new UploadError(`upload stalled at byte ${offset} of ${size}: the device keeps asking for byte ${next}`, next, chunk);
    } else {
      failures = 0;
      if (++streak >= GROW_AFTER && chunk < maxChunk) { chunk = Math.min(maxChunk, chunk * 2); streak = 0; }
    }
    offset = next;
    options.onProgress?.(offset, size);
  }
  const done = expectKind(await client.request({ kind: "loadCommit", sha256: hash }, { deviceMs: client.workAllowance(COMMIT_MS) }), "loadDone");
  if (done.modelId !== toHex(hash)) throw new ProtocolError(`the device committed model ${done.modelId.slice(0, 12)}, not the uploaded ${toHex(hash).slice(0, 12)}`);
  return { modelId: done.modelId, size: done.size, name: done.name, resumedFrom: ready.offset, chunks, failedAttempts, verifyUs: done.verifyUs, alreadyActive: false };
}
