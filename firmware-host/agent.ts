// The device end (`kiln agent`): serves links, one session each, over the model store (docs/protocol.md).
import { createHash, timingSafeEqual } from "node:crypto";
import { hostname } from "node:os";
import { BlobError } from "../runtime/model.js";
import { RunTimeout } from "../runtime/worker-model.js";
import { BodyError } from "./bytes.js";
import { Channel } from "./channel.js";
import { DEFAULT_MAX_FRAME, FRAME_OVERHEAD, LIMIT_MAX_FRAME, PROTOCOL_VERSION, SEQ_NONE, type Frame } from "./frame.js";
import { ConnectionWatch, FailureWindow, LogLimiter, agentLimits, refuseConnection, type AgentLimits } from "./limits.js";
import { LinkLimitError, type Link } from "./link.js";
import {
  ErrorCode, INFO_BLOB, INFO_MANIFEST, MsgType, NakCode, REPLY_TYPE, decodeRequest, encodeReply, rawToBytes, toHex,
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
}

export interface AgentStats {
  /** Sessions open now. */
  connections: number;
  /** Connections answered BUSY because maxConnections were open. */
  refused: number;
  /** Connections closed by a limit: failed HELLO, timeouts, a peer that does not read its answers. */
  dropped: number;
  /** The most output that waited for one connection's peer at once (bytes; TCP links). */
  peakQueuedBytes: number;
}

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

const versionError = (version: number): Reply => ({
  kind: "error", code: ErrorCode.BAD_VERSION, detail: PROTOCOL_VERSION, message: `protocol version ${version} is not supported; this device speaks ${PROTOCOL_VERSION}`,
});

export class Agent {
  readonly limits: AgentLimits;
  /** Failed HELLOs per remote address (per link description where there is no address). */
  readonly helloFailures: FailureWindow;
  private readonly queue = new FairQueue();
  private readonly logs: LogLimiter;
  private sessions = new Set<Session>();
  private refusing = 0;
  private counts = { refused: 0, dropped: 0, closedPeak: 0 };
  readonly simd = WebAssembly.validate(SIMD_PROBE);

  constructor(readonly options: AgentOptions) {
    this.limits = agentLimits(options.limits);
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

  /** Serves one link until it closes. Connection links beyond maxConnections get BUSY for their first request instead. */
  serve(link: Link): { close(): Promise<void> } {
    const max = this.limits.maxConnections;
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
  private authorized: boolean;
  private cache: { seq: number; crc: number; wire: Uint8Array }[] = [];
  private inFlight = new Set<string>();
  private long: { seq: number; data: Uint8Array } | null = null;
  /** A HELLO failed on a connection link: nothing the peer sent after it is evaluated, and the connection closes. */
  private rejected = false;
  /** Frames answered before a successful HELLO. */
  private unauthorizedFrames = 0;
  private lastNak = -Infinity;
  /** Timeouts of connection links (TCP, local); a serial line is the device's only link and is never closed. */
  private readonly watch: ConnectionWatch | null = null;

  constructor(private readonly agent: Agent, readonly link: Link) {
    this.authorized = !agent.options.requireHello && agent.options.token === undefined;
    this.channel = new Channel(link, {
      frame: (f) => this.onFrame(f),
      bad: () => this.onBadFrame(),
      close: (reason) => this.ended(reason),
    }, agent.options.maxFrame);
    if (agent.options.requireHello) {
      this.watch = new ConnectionWatch(agent.limits, () => this.inFlight.size > 0, (why) => this.drop(why));
    }
  }

  /** NAKs an unreadable frame, at most once per nakIntervalMs: a flood of garbage is not answered piece by piece. */
  private onBadFrame(): void {
    const now = performance.now();
    if (this.rejected || now - this.lastNak < this.agent.limits.nakIntervalMs) return;
    this.lastNak = now;
    this.channel.send(REPLY_TYPE.nak, SEQ_NONE, encodeReply({ kind: "nak", code: NakCode.BAD_FRAME, expected: 0 }));
  }

  private drop(why: string): void {
    if (this.link.closed) return;
    this.agent.noteDrop(`closing ${this.link.description}: ${why}`);
    void this.link.close();
  }

  /** Releases what the session holds: its waiting requests, cached replies and timers. */
  private ended(reason?: Error): void {
    this.watch?.stop();
    this.agent.forget(this);
    this.cache = [];
    this.long = null;
    this.inFlight.clear();
    if (reason instanceof LinkLimitError) this.agent.noteDrop(`closed ${this.link.description}: ${reason.message}`);
  }

  private onFrame(f: Frame): void {
    if (this.rejected) return;
    this.watch?.activity();
    const key = `${f.seq}:${f.crc}`;
    const cached = this.cache.find((c) => c.seq === f.seq && c.crc === f.crc);
    if (cached) return this.channel.resend(cached.wire);
    if (this.inFlight.has(key)) return;
    // Authorization comes from the frame type alone: before a good HELLO no other body is even decoded.
    if (!this.authorized) return this.reply(f, this.preAuth(f));
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
    this.watch?.activity();
    if (this.rejected) {
      this.agent.noteDrop(`closing ${this.link.description} after a failed HELLO`);
      setTimeout(() => void this.link.close(), 100);
    }
  }

  /** Before a successful HELLO: only a HELLO is decoded, and only while its address has not failed too often. */
  private preAuth(f: Frame): Reply {
    const limits = this.agent.limits;
    if (this.agent.options.requireHello && ++this.unauthorizedFrames > limits.unauthorizedRequests) {
      this.rejected = true;
      return { kind: "error", code: ErrorCode.UNAUTHORIZED, detail: 0, message: `${limits.unauthorizedRequests} requests without a successful HELLO; closing` };
    }
    if (f.version !== PROTOCOL_VERSION) return versionError(f.version);
    if (f.type !== MsgType.HELLO) return { kind: "error", code: ErrorCode.UNAUTHORIZED, detail: 0, message: "say HELLO with the device's token first" };
    const wait = this.agent.helloFailures.waitMs(this.peer);
    if (wait > 0) {
      if (this.agent.options.requireHello) this.rejected = true;
      this.agent.log(`HELLO from ${this.link.description} not checked: ${limits.helloFailures} failed HELLOs from ${this.peer} within ${limits.helloWindowMs / 1000} s`, "busy");
      return { kind: "error", code: ErrorCode.BUSY, detail: wait, message: `too many failed HELLOs from ${this.peer}; try again in ${Math.ceil(wait / 1000)} s` };
    }
    let req: Request;
    try {
      req = decodeRequest(f.type, f.body);
    } catch (e) {
      if (!(e instanceof BodyError)) throw e;
      return this.failedHello("a malformed HELLO", `malformed HELLO (${e.message})`);
    }
    return this.hello(req as Extract<Request, { kind: "hello" }>);
  }

  private get peer(): string { return this.link.peerAddress ?? this.link.description; }

  /** Counts the failure against the address; on a connection link nothing more is read and the connection closes. */
  private failedHello(what: string, message: string): Reply {
    this.authorized = false;
    this.agent.helloFailures.record(this.peer);
    if (this.agent.options.requireHello) this.rejected = true;
    this.agent.log(`HELLO from ${this.link.description} with ${what}: rejected`, "wrong token");
    return { kind: "error", code: ErrorCode.UNAUTHORIZED, detail: 0, message };
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
    if (!this.authorized) throw new Refusal(ErrorCode.UNAUTHORIZED, "say HELLO with the device's token first");
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

  private hello(req: Extract<Request, { kind: "hello" }>): Reply {
    if (!this.agent.tokenMatches(req.token)) return this.failedHello("a wrong token", "wrong token");
    this.authorized = true;
    this.watch?.authorized();
    this.cache = [];
    this.long = null;
    this.channel.sendLimit = Math.max(DEFAULT_MAX_FRAME, Math.min(LIMIT_MAX_FRAME, this.agent.options.maxFrame, req.maxFrame));
    return { kind: "helloOk", ...this.agent.helloInfo() };
  }
}
