// The host end: request/response with sequence numbers, timeouts, retries and stale-reply detection.
import { Channel } from "./channel.js";
import { DEFAULT_MAX_FRAME, FRAME_OVERHEAD, LIMIT_MAX_FRAME, PROTOCOL_VERSION, SEQ_NONE, type Frame } from "./frame.js";
import type { Link } from "./link.js";
import { BodyError } from "./bytes.js";
import { DeviceError, LinkError, ProtocolError } from "./errors.js";
import {
  EXPECTED_REPLY, MsgType, NakCode, REQUEST_TYPE, decodeReply, encodeRequest, typeName,
  type HelloInfo, type Reply, type Request,
} from "./messages.js";

export interface ClientOptions {
  /** The host's largest frame (HELLO proposes it); default 65536. */
  maxFrame?: number;
  /** Base timeout per attempt, before wire time and device work are added (default 500 ms serial, 1 s otherwise). */
  timeoutMs?: number;
  /** Timed-out attempts before a request fails (default 5). */
  attempts?: number;
  token?: string;
  client?: string;
}

export interface RequestOptions {
  attempts?: number;
  /** Immediate resends on a NAK or a corrupt frame while waiting (default 20). */
  quickResends?: number;
  /** Fail on the first NAK, corrupt frame or timeout instead of resending (the upload resends itself). */
  failFast?: boolean;
  /** Time the device may need to do the work, added to the timeout. */
  deviceMs?: number;
}

export interface ClientStats {
  requests: number;
  resends: number;
  timeouts: number;
  /** Replies for another seq: answers to earlier attempts, duplicates, reordered frames. */
  stale: number;
  /** Frames that failed COBS/CRC/length checks. */
  badFrames: number;
  naks: number;
}

/** A reply with the seq it answered and the round-trip time of the attempt that got it. */
export interface Answer {
  reply: Reply;
  seq: number;
  /** From the last attempt (a slow device may have answered an earlier one: see attemptsAgoMs). */
  rttMs: number;
  /** For each attempt, first to last, how long before the reply it was sent. */
  attemptsAgoMs: number[];
}

type Waiter = { seq: number; hint(): void; frame(f: Frame): void; closed(reason?: Error): void };

/** Kinds whose reply may fill a whole frame; the others are a few dozen bytes. */
const BIG_REPLY = new Set<Request["kind"]>(["info", "more", "profile", "eval", "run"]);

export class DeviceClient {
  readonly channel: Channel;
  readonly stats: ClientStats = { requests: 0, resends: 0, timeouts: 0, stale: 0, badFrames: 0, naks: 0 };
  device: HelloInfo | null = null;
  private seq = 1 + Math.floor(Math.random() * 65535);
  private waiter: Waiter | null = null;
  private queue: Promise<unknown> = Promise.resolve();
  private readonly maxFrame: number;

  constructor(readonly link: Link, private readonly options: ClientOptions = {}) {
    this.maxFrame = Math.max(DEFAULT_MAX_FRAME, Math.min(LIMIT_MAX_FRAME, options.maxFrame ?? LIMIT_MAX_FRAME));
    this.channel = new Channel(link, {
      frame: (f) => (this.waiter ? this.waiter.frame(f) : this.stats.stale++),
      bad: () => { this.stats.badFrames++; this.waiter?.hint(); },
      close: (reason) => this.waiter?.closed(reason),
    }, this.maxFrame);
  }

  /** The largest request body the device accepts now. */
  get maxBody(): number { return this.channel.sendLimit - FRAME_OVERHEAD; }

  /**
   * Time to allow the device for work that runs a blob: at least `minMs`, and never less than the run limit the
   * device stated in HELLO_OK (plus a margin for the rest of the request), so the host does not give up on a request
   * the device is still allowed to finish.
   */
  workAllowance(minMs = 0): number {
    return Math.max(minMs, (this.device?.runLimitMs ?? 0) + 2000);
  }

  /** Sends one request and waits for its reply; requests from concurrent callers are sent one at a time. */
  async request(req: Request, options: RequestOptions = {}): Promise<Reply> {
    return (await this.call(req, options)).reply;
  }

  /** Like request(), with the seq used and the round-trip time. */
  call(req: Request, options: RequestOptions = {}): Promise<Answer> {
    const run = this.queue.then(() => this.exchange(req, options));
    this.queue = run.catch(() => {});
    return run;
  }

  private nextSeq(): number {
    this.seq = (this.seq % 65535) + 1;
    return this.seq;
  }

  private wireMs(bytes: number): number {
    return this.link.baud ? (bytes * 10 * 1000) / this.link.baud : 0;
  }

  private exchange(req: Request, options: RequestOptions): Promise<Answer> {
    const name = typeName(REQUEST_TYPE[req.kind]);
    if (this.link.closed) return Promise.reject(new LinkError(`${this.link.description}: link is closed`));
    const body = encodeRequest(req);
    if (body.length + FRAME_OVERHEAD > this.channel.sendLimit) {
      throw new ProtocolError(`${name} needs a ${body.length + FRAME_OVERHEAD}-byte frame; the link allows ${this.channel.sendLimit}`);
    }
    const seq = this.nextSeq();
    const attempts = options.failFast ? 1 : Math.max(1, options.attempts ?? this.options.attempts ?? 5);
    const quickMax = options.failFast ? 0 : options.quickResends ?? 20;
    const base = this.options.timeoutMs ?? (this.link.baud ? 500 : 1000);
    const replyBytes = BIG_REPLY.has(req.kind) ? this.channel.sendLimit : 64;
    const requestMs = this.wireMs(body.length + FRAME_OVERHEAD + 8);
    const schedule = timeouts(base + 2 * (requestMs + this.wireMs(replyBytes + 8)), attempts, options.deviceMs ?? 0);
    this.stats.requests++;
    return new Promise<Answer>((resolve, reject) => {
      let timeouts = 0, quick = 0, lastSend = performance.now(), lastQuick = -Infinity;
      const sent = [lastSend];
      let timer: NodeJS.Timeout | undefined;
      const wire = this.channel.send(REQUEST_TYPE[req.kind], seq, body);
      const finish = (error: Error | null, reply?: Reply): void => {
        clearTimeout(timer);
        this.waiter = null;
        const now = performance.now();
        if (error) reject(error); else resolve({ reply: reply as Reply, seq, rttMs: now - lastSend, attemptsAgoMs: sent.map((t) => now - t) });
      };
      const resend = (): void => {
        this.stats.resends++;
        lastSend = performance.now();
        sent.push(lastSend);
        this.channel.resend(wire);
        arm();
      };
      const arm = (): void => {
        clearTimeout(timer);
        timer = setTimeout(() => {
          this.stats.timeouts++;
          if (++timeouts >= schedule.length) {
            const waited = schedule.reduce((a, b) => a + b, 0);
            finish(new LinkError(`no answer to ${name} from ${this.link.description} after ${timeouts} ${timeouts === 1 ? "try" : "tries"} (${(waited / 1000).toFixed(1)} s)`));
          } else resend();
        }, schedule[Math.min(timeouts, schedule.length - 1)]);
      };
      const hint = (): void => {
        // Before the request has even left the wire, a damaged frame or NAK is about an earlier frame (one damaged
        // frame can arrive as several pieces): ignore it. Otherwise resend at once, without waiting for the timeout.
        if (performance.now() - lastSend < requestMs) return;
        if (options.failFast) return finish(new LinkError(`${name}: damaged frame or NAK on ${this.link.description}`));
        if (quick >= quickMax || performance.now() - lastQuick < requestMs + 5) return;
        quick++;
        lastQuick = performance.now();
        resend();
      };
      this.waiter = {
        seq, hint,
        closed: (reason) => finish(new LinkError(`${this.link.description} closed while waiting for the answer to ${name}${reason ? `: ${reason.message}` : ""}`)),
        frame: (f) => {
          if (f.version !== PROTOCOL_VERSION) { this.stats.stale++; return; }
          if (f.seq !== seq) {
            if (f.type === MsgType.NAK && f.seq === SEQ_NONE) { this.stats.naks++; hint(); } else this.stats.stale++;
            return;
          }
          let reply: Reply;
          try {
            reply = decodeReply(f.type, f.body);
          } catch (e) {
            if (!(e instanceof BodyError)) throw e;
            return finish(new ProtocolError(`${name}: malformed answer from the device (${e.message})`));
          }
          if (reply.kind === "error") return finish(new DeviceError(name, reply.code, reply.detail, reply.message));
          if (reply.kind === "nak") {
            this.stats.naks++;
            if (reply.code === NakCode.BAD_FRAME) return hint();
            return finish(null, reply);
          }
          if (reply.kind !== EXPECTED_REPLY[req.kind]) { this.stats.stale++; return; }
          finish(null, reply);
        },
      };
      arm();
    });
  }

  /** Starts a session: negotiates the frame size and learns what the device is and what it runs. */
  async hello(): Promise<HelloInfo> {
    const reply = await this.request({ kind: "hello", maxFrame: this.maxFrame, token: this.options.token ?? "", client: this.options.client ?? "kiln" });
    const { kind: _, ...info } = expectKind(reply, "helloOk");
    this.channel.sendLimit = Math.max(DEFAULT_MAX_FRAME, Math.min(this.maxFrame, info.maxFrame));
    this.device = info;
    return info;
  }

  close(): Promise<void> {
    this.channel.detach();
    return this.link.close();
  }
}

/**
 * How long each attempt waits. Plain requests: `attempts` times the same timeout. Requests that make the device
 * work (`deviceMs`): the timeout doubles from attempt to attempt until the allowance is covered, so a lost frame
 * costs one short wait while a slow device is neither given up on nor flooded with retransmissions.
 */
export function timeouts(first: number, attempts: number, deviceMs: number): number[] {
  if (deviceMs <= 0) return new Array<number>(attempts).fill(first);
  const schedule: number[] = [];
  let t = first, total = 0;
  while (schedule.length < attempts || total < deviceMs + first) {
    schedule.push(t);
    total += t;
    t *= 2;
  }
  return schedule;
}

/** Narrows a reply to the expected kind, or throws a ProtocolError (a NAK where none belongs, for example). */
export function expectKind<K extends Reply["kind"]>(reply: Reply, kind: K): Extract<Reply, { kind: K }> {
  if (reply.kind !== kind) throw new ProtocolError(`expected ${kind} from the device, got ${reply.kind}`);
  return reply as Extract<Reply, { kind: K }>;
}
