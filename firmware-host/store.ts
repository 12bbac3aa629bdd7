// The agent's model store: pending uploads in a file, and an atomic, verified swap of the committed model.
import { createHash } from "node:crypto";
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, statSync, writeFileSync, writeSync } from "node:fs";
import { join } from "node:path";
import { BlobMemoryError } from "../runtime/model.js";
import { DEFAULT_TIME_LIMIT_MS, RunTimeout, WorkerModel } from "../runtime/worker-model.js";
import { ErrorCode, type ErrorCodeValue } from "./messages.js";

export const MODEL_FILE = "model.wasm", PART_FILE = "upload.part", META_FILE = "upload.json";

export interface ActiveModel {
  /** SHA-256 of the blob, hex: the model id. */
  id: string;
  bytes: Uint8Array;
  /** The blob on its own worker thread: every call is time-limited (runLimitMs). */
  model: WorkerModel;
}

export interface PendingUpload {
  size: number;
  sha256: string;
  crc32: number;
  name: string;
  /** Contiguous bytes held in upload.part. */
  received: number;
}

export interface StoreOptions {
  /** Largest linear memory a blob may need, in bytes. */
  memoryLimit: number;
  /** Largest blob accepted by LOAD_BEGIN. */
  maxBlob: number;
  /** Longest a blob's instantiation or one request may run (ms; default 10 s). */
  runLimitMs?: number;
  log?: (line: string) => void;
}

/** A refusal the agent turns into an ERROR reply. */
export class StoreError extends Error {
  constructor(readonly code: ErrorCodeValue, message: string, readonly detail = 0) {
    super(message);
  }
}

const sha256Hex = (bytes: Uint8Array): string => createHash("sha256").update(bytes).digest("hex");

function fsyncDir(dir: string): void {
  const fd = openSync(dir, "r");
  try { fsyncSync(fd); } finally { closeSync(fd); }
}

export class ModelStore {
  active: ActiveModel | null = null;
  pending: PendingUpload | null = null;
  private fd: number | null = null;

  private constructor(readonly dir: string, readonly options: StoreOptions) {}

  /** Opens (creating) the store; serves the last committed model and keeps a pending upload for resuming. */
  static async open(dir: string, options: StoreOptions): Promise<ModelStore> {
    mkdirSync(dir, { recursive: true });
    const store = new ModelStore(dir, options);
    const modelPath = join(dir, MODEL_FILE);
    if (existsSync(modelPath)) {
      const bytes = new Uint8Array(readFileSync(modelPath));
      try {
        store.active = { id: sha256Hex(bytes), bytes, model: await WorkerModel.load(bytes, store.loadOptions) };
      } catch (e) {
        options.log?.(`${modelPath} cannot be served (${(e as Error).message}); waiting for a new model`);
      }
    }
    store.restorePending();
    return store;
  }

  private path(name: string): string { return join(this.dir, name); }

  get runLimitMs(): number { return this.options.runLimitMs ?? DEFAULT_TIME_LIMIT_MS; }

  set runLimitMs(ms: number) {
    this.options.runLimitMs = ms;
    if (this.active) this.active.model.timeLimitMs = ms;
  }

  private get loadOptions() { return { memoryLimit: this.options.memoryLimit, timeLimitMs: this.runLimitMs }; }

  private restorePending(): void {
    if (!existsSync(this.path(META_FILE)) || !existsSync(this.path(PART_FILE))) return this.discardPending();
    try {
      const meta = JSON.parse(readFileSync(this.path(META_FILE), "utf8")) as PendingUpload;
      const held = statSync(this.path(PART_FILE)).size;
      if (!(meta.size >= 0) || typeof meta.sha256 !== "string") throw new Error("bad metadata");
      this.pending = { ...meta, received: Math.min(held, meta.size) };
      this.fd = openSync(this.path(PART_FILE), "r+");
    } catch {
      this.discardPending();
    }
  }

  /** Starts (or resumes, for the same size and hash) an upload; returns the offset to continue from. */
  begin(size: number, sha256: string, crc32: number, name: string): number {
    if (size > this.options.maxBlob) throw new StoreError(ErrorCode.TOO_LARGE, `blob of ${size} bytes; this device takes at most ${this.options.maxBlob}`, this.options.maxBlob);
    if (size === 0) throw new StoreError(ErrorCode.BAD_REQUEST, "empty blob");
    const p = this.pending;
    if (p && p.size === size && p.sha256 === sha256 && this.fd !== null) return p.received;
    this.discardPending();
    try {
      this.fd = openSync(this.path(PART_FILE), "w+");
      this.pending = { size, sha256, crc32, name, received: 0 };
      writeFileSync(this.path(META_FILE), JSON.stringify({ size, sha256, crc32, name }));
    } catch (e) {
      this.discardPending();
      throw new StoreError(ErrorCode.STORAGE, `cannot write ${this.dir}: ${(e as Error).message}`);
    }
    return 0;
  }

  /** Appends a chunk at `offset`; returns the bytes now held, or null when the chunk is beyond them. */
  write(offset: number, data: Uint8Array): number | null {
    const p = this.pending;
    if (!p || this.fd === null) throw new StoreError(ErrorCode.NO_UPLOAD, "LOAD_CHUNK without LOAD_BEGIN");
    if (offset + data.length > p.size) throw new StoreError(ErrorCode.BAD_REQUEST, `chunk ${offset}+${data.length} runs past the blob's ${p.size} bytes`);
    if (offset > p.received) return null;
    const fresh = data.subarray(p.received - offset);
    if (fresh.length > 0) {
      try {
        writeSync(this.fd, fresh, 0, fresh.length, p.received);
      } catch (e) {
        throw new StoreError(ErrorCode.STORAGE, `cannot write ${this.path(PART_FILE)}: ${(e as Error).message}`);
      }
      p.received += fresh.length;
    }
    return p.received;
  }

  /** Verifies the pending upload and swaps it in atomically; on any failure the active model stays. */
  async commit(sha256: string): Promise<ActiveModel> {
    if (this.active?.id === sha256) {
      // Already committed (a COMMIT repeated from a new session, or a deploy of the running blob).
      if (this.pending?.sha256 === sha256) this.discardPending();
      return this.active;
    }
    const p = this.pending;
    if (!p || this.fd === null) throw new StoreError(ErrorCode.NO_UPLOAD, "LOAD_COMMIT without a pending upload");
    if (p.sha256 !== sha256) throw new StoreError(ErrorCode.BAD_REQUEST, "LOAD_COMMIT names another blob than LOAD_BEGIN");
    if (p.received < p.size) throw new StoreError(ErrorCode.INCOMPLETE, `holds ${p.received} of ${p.size} bytes`, p.received);
    let bytes: Uint8Array<ArrayBuffer>;
    try {
      fsyncSync(this.fd);
      bytes = new Uint8Array(readFileSync(this.path(PART_FILE)));
    } catch (e) {
      throw new StoreError(ErrorCode.STORAGE, `cannot read back ${this.path(PART_FILE)}: ${(e as Error).message}`);
    }
    const reject = (code: ErrorCodeValue, message: string, detail = 0): never => {
      this.discardPending();
      throw new StoreError(code, message, detail);
    };
    if (bytes.length !== p.size) reject(ErrorCode.HASH_MISMATCH, `stored ${bytes.length} bytes, expected ${p.size}`);
    if (sha256Hex(bytes) !== p.sha256) reject(ErrorCode.HASH_MISMATCH, "stored bytes do not have the announced SHA-256");
    if (!WebAssembly.validate(bytes)) reject(ErrorCode.INVALID_BLOB, "not a valid WebAssembly module");
    let loaded: WorkerModel | undefined;
    try {
      loaded = await WorkerModel.load(bytes, this.loadOptions);
    } catch (e) {
      if (e instanceof RunTimeout) reject(ErrorCode.TIMEOUT, e.message, e.limitMs);
      if (e instanceof BlobMemoryError) reject(ErrorCode.OUT_OF_MEMORY, e.message, Math.min(e.bytes, 0xffffffff));
      reject(ErrorCode.BAD_MANIFEST, (e as Error).message);
    }
    const model = loaded as WorkerModel;
    try {
      closeSync(this.fd);
      this.fd = null;
      renameSync(this.path(PART_FILE), this.path(MODEL_FILE));
      fsyncDir(this.dir);
      rmSync(this.path(META_FILE), { force: true });
    } catch (e) {
      this.discardPending();
      void model.close();
      throw new StoreError(ErrorCode.STORAGE, `cannot swap the model in ${this.dir}: ${(e as Error).message}`);
    }
    this.pending = null;
    void this.active?.model.close();
    this.active = { id: p.sha256, bytes, model };
    return this.active;
  }

  /** Forgets the pending upload and deletes its files; the committed model is not touched. */
  discardPending(): void {
    if (this.fd !== null) {
      try { closeSync(this.fd); } catch { /* already closed */ }
      this.fd = null;
    }
    this.pending = null;
    rmSync(this.path(PART_FILE), { force: true });
    rmSync(this.path(META_FILE), { force: true });
  }

  /** A fresh instance of the active model (RESET). */
  async reinstantiate(): Promise<void> {
    await this.active?.model.reset();
  }

  /** Stops the active model's worker, failing a request that runs now (shutdown must not wait for a blob). */
  stopRunning(): Promise<void> {
    return this.active?.model.close() ?? Promise.resolve();
  }

  close(): void {
    void this.stopRunning();
    if (this.fd !== null) {
      try { closeSync(this.fd); } catch { /* ignore */ }
      this.fd = null;
    }
  }
}
