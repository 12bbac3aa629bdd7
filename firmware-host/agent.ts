// The device end (`kiln agent`): serves links, one session each, over the model store (docs/protocol.md).
import { createHash, timingSafeEqual } from "node:crypto";
import { hostname } from "node:os";
import { BlobError } from "../runtime/model.js";
import { RunTimeout } from "../runtime/worker-model.js";
import { BodyError } from "./bytes.js";
import { Channel } from "./channel.js";
import { DEFAULT_MAX_FRAME, FRAME_OVERHEAD, LIMIT_MAX_FRAME, PROTOCOL_VERSION, SEQ_NONE, type Frame } from "./frame.js";
import { Gate, versionError, type HelloRequest } from "./gate.js";
import { FailureWindow, LogLimiter, agentLimits, refuseConnection, type AgentLimits, type AgentStats } from "./limits.js";
import type { Link } from "./link.js";
import {
  ErrorCode, INFO_BLOB, INFO_MANIFEST, NakCode, REPLY_TYPE, decodeRequest, encodeReply, rawToBytes, toHex,
  type HelloInfo, type Reply, type Request,
} from "./messages.js";
import { FairQueue } from "./scheduler.js";
import { StoreError, type ModelStore } from "./store.js";

export interface AgentOptions {
  store: ModelStore;
  /** Largest frame this device accepts and sends. */
  maxFrame: number;
  /** When set, HELLO must carry it; without it requests need no HELLO unless requireHello. */
  token?: string;
  /** Every connection must start with HELLO (TCP). */
  requireHello?: boolean;
  name?: string;
  log?: (line: string) => void;
  /** Longest one RUN, PROFILE or EVAL may take (ms), stated in HELLO_OK. */
  runLimitMs?: number;
  /** Connection, authentication and log limits (DEFAULT_LIMITS in limits.ts for the rest). */
  limits?: Partial<AgentLimits>;
  /** What HELLO_OK states about WebAssembly SIMD (default: whether this Node validates SIMD128); false plays a board. */
  simd?: boolean;
}

export type { AgentStats };

/** Default per-request time limit for running a blob. */
export const DEFAULT_RUN_LIMIT_MS = 10_000;

/** Replies kept per session to answer retransmissions without executing them again. */
const CACHE = 8;
/** WebAssembly module with one SIMD instruction: validates only where SIMD128 is supported. */
const SIMD_PROBE = new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0, 1, 5, 1, 96, 0, 1, 123, 3, 2, 1, 0, 10, 10, 1, 8, 0, 65, 0, 253, 15, 253, 98, 11]);

class Refusal extends Error {
  constructor(readonly code: number, message: string, readonly detail = 0) { super(message); }
}

const digest = (s: string): Buffer => createHash("sha256").update(s).digest();

export class Agent {
  readonly limits: AgentLimits;
  /** Failed HELLOs per remote address (per link description where there is no address). */
  readonly helloFailures: FailureWindow;
  private readonly queue = new FairQueue();
  private readonly logs: LogLimiter;
  private sessions = new Set<Session>();
  private refusing = 0;
  private counts = { refused: 0, dropped: 0, closedPeak: 0 };
  readonly simd: boolean;

  constructor(readonly options: AgentOptions) {
    this.limits = agentLimits(options.limits);
    this.simd = options.simd ?? WebAssembly.validate(SIMD_PROBE);
    this.helloFailures = new FailureWindow(this.limits.helloFailures, this.limits.helloWindowMs);
    this.logs = new LogLimiter((line) => this.options.log?.(line), this.limits.logBurst, this.limits.logWindowMs);
    // The store enforces the run limit (instantiation at COMMIT, every request); HELLO_OK states the same number.
    if (options.runLimitMs !== undefined) options.store.runLimitMs = options.runLimitMs;
  }

  get store(): ModelStore { return this.options.store; }

  /** Logs a line; past logBurst lines of one kind (default: the line's first word) per window, a summary follows. */
  log(line: string, kind = line.split(" ", 1)[0]): void { this.logs.log(kind, line); }

  stats(): AgentStats {
    const peaks = [...this.sessions].map((s) => s.link.stats.peakQueued ?? 0);
    return { connections: this.sessions.size, refused: this.counts.refused, dropped: this.counts.dropped, peakQueuedBytes: Math.max(this.counts.closedPeak, ...peaks) };
  }

  /** A session closed its connection because of a limit. */
  noteDrop(line: string, kind = "closed"): void {
    this.counts.dropped++;
    this.log(line, kind);
  }

  helloInfo(): HelloInfo {
    const a = this.store.active;
    return {
      maxFrame: this.options.maxFrame, memoryLimit: this.store.options.memoryLimit, maxBlob: this.store.options.maxBlob, simd: this.simd,
      modelId: a?.id ?? null, modelSize: a?.bytes.length ?? 0, device: this.options.name ?? hostname(),
      runtime: `node ${process.version} (V8 ${process.versions.v8}) ${process.platform}-${process.arch}`, modelName: a?.model.info.model ?? "",
      runLimitMs: this.store.runLimitMs,
    };
  }

  tokenMatches(token: string): boolean {
    return this.options.token === undefined || timingSafeEqual(digest(token), digest(this.options.token));
  }

  /**
   * Serves one link until it closes. At maxConnections a new connection link replaces the oldest session that has
   * not said a good HELLO (unauthenticated peers cannot hold the slots); when all are authenticated it gets BUSY.
   */
  serve(link: Link): { close(): Promise<void> } {
    const max = this.limits.maxConnections;
    if (this.options.requireHello && this.sessions.size >= max) this.evictUnauthenticated(link.description);
    if (this.options.requireHello && this.sessions.size >= max) {
      this.counts.refused++;
      this.log(`refusing ${link.description}: ${this.sessions.size} connections open (limit ${max})`, "refused");
      // Refused connections are held for at most a second each, and at most `max` of them at once.
      if (this.refusing >= max) void link.close();
      else {
        this.refusing++;
        link.onClose(() => { this.refusing--; });
        refuseConnection(link, `the device serves ${max} connections at once; try again later`, 1000);
      }
      return { close: () => link.close() };
    }
    const session = new Session(this, link);
    this.sessions.add(session);
    link.onClose(() => {
      this.sessions.delete(session);
      this.counts.closedPeak = Math.max(this.counts.closedPeak, link.stats.peakQueued ?? 0);
    });
    return { close: () => link.close() };
  }

  private evictUnauthenticated(newcomer: string): void {
    const oldest = [...this.sessions].find((s) => !s.authenticated);
    if (!oldest) return;
    this.sessions.delete(oldest);
    this.noteDrop(`closing ${oldest.link.description}: no good HELLO yet, and ${newcomer} needs its place (limit ${this.limits.maxConnections})`);
    void oldest.link.close();
  }

  /** Queues a session's request. Requests run one at a time (the store and the model are shared), sessions taking turns. */
  schedule(session: object, job: () => Promise<void>): void { this.queue.push(session, job); }

  /** Forgets the requests a closed session still had waiting. */
  forget(session: object): void { this.queue.drop(session); }

  /** Runs agent-wide work in turn with the sessions' requests. */
  exclusive<T>(work: () => Promise<T>): Promise<T> {
    return this.queue.run(this, work);
  }

  async close(): Promise<void> {
    await Promise.all([...this.sessions].map((s) => s.link.close()));
    // A blob running now is stopped rather than waited for (up to the run limit).
    await this.store.stopRunning();
    await this.queue.idle();
    this.logs.close();
    this.store.close();
  }
}

class Session {
  private readonly channel: Channel;
  /** Authentication and the connection's limits. */
  private readonly gate: Gate;
  private cache: { seq: number; crc: number; wire: Uint8Array }[] = [];
  private inFlight = new Set<string>();
  private long: { seq: number; data: Uint8Array } | null = null;

  constructor(private readonly agent: Agent, readonly link: Link) {
    this.gate = new Gate(agent, link, () => this.inFlight.size > 0);
    this.channel = new Channel(link, {
      frame: (f) => this.onFrame(f),
      bad: () => { if (this.gate.nakNow()) this.channel.send(REPLY_TYPE.nak, SEQ_NONE, encodeReply({ kind: "nak", code: NakCode.BAD_FRAME, expected: 0 })); },
      close: (reason) => this.ended(reason),
    }, agent.options.maxFrame);
  }

  get authenticated(): boolean { return this.gate.authorized; }

  /** Releases what the session holds: its waiting requests, cached replies and timers. */
  private ended(reason?: Error): void {
    this.gate.closed(reason);
    this.agent.forget(this);
    this.cache = [];
    this.long = null;
    this.inFlight.clear();
  }

  private onFrame(f: Frame): void {
    if (this.gate.rejected) return;
    this.gate.received();
    const key = `${f.seq}:${f.crc}`;
    const cached = this.cache.find((c) => c.seq === f.seq && c.crc === f.crc);
    if (cached) return this.channel.resend(cached.wire);
    if (this.inFlight.has(key)) return;
    // Before a good HELLO: answered at once, outside the request queue, from the frame type (no other body is decoded).
    if (!this.gate.authorized) {
      const answer = this.gate.preAuth(f);
      return this.reply(f, answer.kind === "hello" ? this.hello(answer) : answer);
    }
    if (f.version !== PROTOCOL_VERSION) return this.reply(f, versionError(f.version));
    // Stop-and-wait hosts have one request out; a peer that pipelines more is not queued without bound.
    if (this.inFlight.size >= this.agent.limits.pendingPerSession) return;
    this.inFlight.add(key);
    this.agent.schedule(this, async () => {
      let reply: Reply;
      try {
        reply = await this.handle(decodeRequest(f.type, f.body), f.seq);
      } catch (e) {
        reply = this.refusal(e);
      }
      this.inFlight.delete(key);
      if (!this.link.closed) this.reply(f, reply);
    });
  }

  private refusal(e: unknown): Reply {
    if (e instanceof Refusal || e instanceof StoreError) return { kind: "error", code: e.code, detail: e.detail, message: e.message };
    if (e instanceof BodyError) return { kind: "error", code: ErrorCode.BAD_REQUEST, detail: 0, message: e.message };
    if (e instanceof RunTimeout) {
      this.agent.log(`${e.message}; a fresh instance serves the next request`, "timeout");
      return { kind: "error", code: ErrorCode.TIMEOUT, detail: e.limitMs, message: e.message };
    }
    if (e instanceof BlobError) return { kind: "error", code: ErrorCode.BAD_INPUT, detail: 0, message: e.message };
    this.agent.log(`internal error: ${(e as Error).stack ?? String(e)}`);
    return { kind: "error", code: ErrorCode.INTERNAL, detail: 0, message: (e as Error).message ?? String(e) };
  }

  private reply(f: Frame, reply: Reply): void {
    let body = encodeReply(reply);
    if (body.length + FRAME_OVERHEAD > this.channel.sendLimit) {
      const message = `the answer needs a ${body.length + FRAME_OVERHEAD}-byte frame; this session allows ${this.channel.sendLimit} (say HELLO with a larger frame)`;
      reply = { kind: "error", code: ErrorCode.TOO_LARGE, detail: body.length + FRAME_OVERHEAD, message };
      body = encodeReply(reply);
    }
    const wire = this.channel.send(REPLY_TYPE[reply.kind], f.seq, body);
    this.cache.push({ seq: f.seq, crc: f.crc, wire });
    if (this.cache.length > CACHE) this.cache.shift();
    this.gate.answered();
    // A rejected peer's further bytes are not even decoded until its connection closes.
    if (this.gate.rejected) this.channel.stopReading();
  }

  private model() {
    const active = this.agent.store.active;
    if (!active) throw new Refusal(ErrorCode.NO_MODEL, "no model committed yet (kiln deploy one)");
    return active;
  }

  private page(seq: number, data: Uint8Array): Uint8Array {
    this.long = { seq, data };
    return data.subarray(0, this.channel.sendLimit - FRAME_OVERHEAD - 4);
  }

  private async handle(req: Request, seq: number): Promise<Reply> {
    if (req.kind === "hello") return this.hello(req);
    if (!this.gate.authorized) throw new Refusal(ErrorCode.UNAUTHORIZED, "say HELLO with the device's token first");
    const store = this.agent.store;
    switch (req.kind) {
      case "info": {
        const active = this.model();
        if (req.what !== INFO_MANIFEST && req.what !== INFO_BLOB) throw new Refusal(ErrorCode.BAD_REQUEST, `INFO ${req.what}: unknown selector`);
        const data = req.what === INFO_BLOB ? active.bytes : new TextEncoder().encode(JSON.stringify(active.model.info));
        return { kind: "infoOk", total: data.length, data: this.page(seq, data) };
      }
      case "more": {
        if (!this.long || this.long.seq !== req.of) throw new Refusal(ErrorCode.NO_RESULT, `no long reply for request ${req.of} (ask again)`);
        const { data } = this.long;
        if (req.offset >= data.length) throw new Refusal(ErrorCode.BAD_REQUEST, `MORE at ${req.offset} of ${data.length} bytes`);
        return { kind: "moreOk", total: data.length, offset: req.offset, data: data.subarray(req.offset, req.offset + this.channel.sendLimit - FRAME_OVERHEAD - 8) };
      }
      case "loadBegin": {
        const offset = store.begin(req.size, toHex(req.sha256), req.crc32, req.name);
        this.agent.log(`upload ${req.name || "blob"} (${req.size} bytes, ${toHex(req.sha256).slice(0, 12)}) ${offset ? `resumes at byte ${offset}` : "begins"}`);
        return { kind: "loadReady", offset };
      }
      case "loadChunk": {
        const next = store.write(req.offset, req.data);
        if (next === null) return { kind: "nak", code: NakCode.OUT_OF_ORDER, expected: store.pending?.received ?? 0 };
        return { kind: "loadAck", next };
      }
      case "loadCommit": {
        const t0 = performance.now();
        const before = store.active?.id;
        try {
          const active = await store.commit(toHex(req.sha256));
          if (before !== active.id) this.agent.log(`committed model ${active.id.slice(0, 12)} (${active.model.info.model}, ${active.bytes.length} bytes)`);
          return { kind: "loadDone", modelId: active.id, size: active.bytes.length, name: active.model.info.model, verifyUs: (performance.now() - t0) * 1000 };
        } catch (e) {
          this.agent.log(`commit refused: ${(e as Error).message}; the active model stays`);
          throw e;
        }
      }
      case "run": {
        const { model } = this.model();
        const expected = model.inputSize * (req.float ? 4 : 1);
        if (req.input.length !== expected) throw new Refusal(ErrorCode.BAD_INPUT, `input of ${req.input.length} bytes; the model takes ${expected}`, expected);
        const input = req.float ? new Float32Array(req.input.slice().buffer) : req.input;
        // On the model's worker, within the run limit: a blob that never returns costs this request, not the agent.
        const { raw, index, deviceUs } = await model.run(input);
        return { kind: "runOk", deviceUs, index, dtype: raw instanceof Float32Array ? "float32" : "int8", output: rawToBytes(raw) };
      }
      case "profile": {
        const { model } = this.model();
        if (req.runs < 1 || req.runs > 100_000 || req.warmup > 100_000) throw new Refusal(ErrorCode.BAD_REQUEST, "PROFILE: runs must be 1…100000, warmup ≤ 100000");
        // Timing stops at half the run limit (the result says how many runs were made), so that a large count
        // delays other clients by at most that, and never ends in a TIMEOUT for a blob that works.
        const result = await model.profile({ runs: req.runs, warmup: req.warmup, budgetMs: store.runLimitMs / 2 });
        const data = new TextEncoder().encode(JSON.stringify(result));
        return { kind: "profileOk", total: data.length, data: this.page(seq, data) };
      }
      case "eval": {
        const { model } = this.model();
        const size = model.inputSize;
        if (req.inputs.length !== req.count * size) throw new Refusal(ErrorCode.BAD_INPUT, `EVAL: ${req.inputs.length} input bytes for ${req.count} images of ${size}`, size);
        // One call for the whole batch: the worker's round trip is paid once, not per image.
        const result = await model.classify(req.inputs, req.count, { outputs: req.outputs });
        const predictions = Uint16Array.from(result.predictions);
        let correct = 0;
        for (let i = 0; i < req.count; i++) if (predictions[i] === req.labels[i]) correct++;
        return { kind: "evalOk", count: req.count, correct, deviceUs: result.deviceUs, predictions, outputs: result.outputs };
      }
      case "reset": {
        await store.reinstantiate();
        if (req.discardUpload) store.discardPending();
        this.long = null;
        return { kind: "resetOk" };
      }
    }
  }

  private hello(req: HelloRequest): Reply {
    const refused = this.gate.hello(req);
    if (refused) return refused;
    this.cache = [];
    this.long = null;
    this.channel.sendLimit = Math.max(DEFAULT_MAX_FRAME, Math.min(LIMIT_MAX_FRAME, this.agent.options.maxFrame, req.maxFrame));
    return { kind: "helloOk", ...this.agent.helloInfo() };
  }
}
