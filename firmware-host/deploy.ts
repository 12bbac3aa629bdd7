// Deploying a blob: sessions that reconnect after link errors and resume the upload where the device left off.
import { DeviceError, LinkError, UnreachableError } from "./errors.js";
import type { ClientStats, DeviceClient } from "./client.js";
import { ErrorCode, type HelloInfo } from "./messages.js";
import { UploadError, uploadBlob, type UploadResult } from "./upload.js";

export interface DeployOptions {
  name?: string;
  /** Sessions before giving up (default 4). */
  sessions?: number;
  /** Waits between sessions (default 0.5 s, 1 s, 2 s, then 2 s). */
  backoffMs?: number[];
  maxChunk?: number;
  /** Failed chunk attempts in a row that end a session (default 12). */
  maxFailures?: number;
  /**
   * The blob's manifest says it needs WebAssembly SIMD (`simd: true`): a device whose HELLO says it has none is
   * refused before anything is uploaded (it could only fail at COMMIT, after the whole transfer).
   */
  needsSimd?: boolean;
  /** Called once, with the first HELLO answer. */
  onHello?: (hello: HelloInfo) => void;
  onProgress?: (acked: number, total: number) => void;
  /** Called when a session failed and another one will follow. */
  onRetry?: (session: number, error: Error, acked: number) => void;
}

export interface DeployResult extends UploadResult {
  hello: HelloInfo;
  sessions: number;
  /** Wall time from the first connection attempt to LOAD_DONE. */
  seconds: number;
  /** Bytes the host put on the link in all sessions (frames, retransmissions, delimiters). */
  wireBytesOut: number;
  failedAttempts: number;
  /** The clients' counters, summed over the sessions: timeouts, resends, damaged frames, stale replies, NAKs. */
  link: ClientStats;
}

/** Something that opens a session with a device (a DeviceTarget, or a test's own link). */
export interface Connector {
  readonly description: string;
  connect(): Promise<DeviceClient>;
}

/** The deploy failed for good; the device keeps serving the model it had. */
export class DeployError extends Error {
  override name = "DeployError";
  /** `lastError`: the failure of the last session, when sessions ran out (a fleet's table shows it alone). */
  constructor(message: string, readonly acked: number, readonly lastError?: Error) {
    super(message);
  }
}

/** Upload errors where starting the upload again can help: the link, or bytes the device found damaged. */
function retryable(e: unknown): boolean {
  // A name no DNS server knows stays unknown: trying again only delays the answer.
  if (e instanceof UnreachableError && e.code === "ENOTFOUND") return false;
  if (e instanceof LinkError) return true;
  return e instanceof DeviceError && (e.code === ErrorCode.HASH_MISMATCH || e.code === ErrorCode.INCOMPLETE || e.code === ErrorCode.NO_UPLOAD);
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export async function deploy(target: Connector, blob: Uint8Array, options: DeployOptions = {}): Promise<DeployResult> {
  const sessions = Math.max(1, options.sessions ?? 4);
  const backoff = options.backoffMs ?? [500, 1000, 2000];
  const started = performance.now();
  let hello: HelloInfo | null = null, acked = 0, wireBytesOut = 0, failedAttempts = 0;
  let lastError: Error | null = null;
  let chunk: number | undefined;
  const link: ClientStats = { requests: 0, resends: 0, timeouts: 0, stale: 0, badFrames: 0, naks: 0 };
  const count = (c: DeviceClient): void => {
    wireBytesOut += c.link.stats.bytesOut;
    for (const k of Object.keys(link) as (keyof ClientStats)[]) link[k] += c.stats[k];
  };
  for (let session = 1; session <= sessions; session++) {
    let client: DeviceClient | null = null;
    try {
      client = await target.connect();
      if (!hello) {
        hello = client.device as HelloInfo;
        options.onHello?.(hello);
      }
      if (options.needsSimd && !hello.simd) {
        throw new DeployError(`${target.description} (${hello.device}, ${hello.runtime}) has no WebAssembly SIMD and this blob needs it: `
          + "compile the model with --target scalar (kiln compile model.json --target scalar -o model.wasm); nothing was uploaded", 0);
      }
      const result = await uploadBlob(client, blob, {
        name: options.name, maxChunk: options.maxChunk, maxFailures: options.maxFailures, initialChunk: chunk,
        onProgress: (done, total) => { acked = done; options.onProgress?.(done, total); },
      });
      count(client);
      await client.close();
      return {
        ...result, hello: hello as HelloInfo, sessions: session, seconds: (performance.now() - started) / 1000,
        wireBytesOut, failedAttempts: failedAttempts + result.failedAttempts, link,
      };
    } catch (e) {
      if (client) {
        count(client);
        await client.close().catch(() => {});
      }
      if (!retryable(e)) throw e;
      lastError = e as Error;
      if (e instanceof UploadError) { acked = e.acked; chunk = e.chunk; }
      failedAttempts++;
      if (session < sessions) {
        options.onRetry?.(session, lastError, acked);
        await sleep(backoff[Math.min(session - 1, backoff.length - 1)] ?? 0);
      }
    }
  }
  if (!hello && lastError instanceof UnreachableError) {
    // Never reached: nothing is known about the device or what it serves.
    throw new DeployError(`${lastError.message}; ${sessions === 1 ? "" : `tried ${sessions} times, `}nothing was uploaded`, 0, lastError);
  }
  throw new DeployError(`deploy to ${target.description} failed after ${sessions} session${sessions === 1 ? "" : "s"}: ${lastError?.message}; `
    + `the device had acknowledged ${acked} of ${blob.length} bytes and keeps serving its previous model`, acked, lastError ?? undefined);
}
