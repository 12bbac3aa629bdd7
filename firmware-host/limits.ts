// The agent's defences against hostile peers: connection and request limits, failed-HELLO windows, rate-limited logs.
import { Channel } from "./channel.js";
import { DEFAULT_MAX_FRAME } from "./frame.js";
import type { Link } from "./link.js";
import { ErrorCode, REPLY_TYPE, encodeReply } from "./messages.js";

export interface AgentLimits {
  /** Sessions served at once on connection links (TCP, local); further connections are answered BUSY and closed. */
  maxConnections: number;
  /** A connection without a successful HELLO after this long is closed (ms). */
  authTimeoutMs: number;
  /** A connection that sent no request for this long, with none being worked on, is closed (ms). */
  idleTimeoutMs: number;
  /** Frames one connection may send before a successful HELLO; the next one closes it. */
  unauthorizedRequests: number;
  /** Failed HELLOs from one address within helloWindowMs after which its HELLOs get BUSY, unchecked. */
  helloFailures: number;
  helloWindowMs: number;
  /** Requests of one session waiting for their turn; more are dropped unanswered (a host retransmits). */
  pendingPerSession: number;
  /** Log lines of one kind per logWindowMs; the others are counted in one summary line. */
  logBurst: number;
  logWindowMs: number;
  /** Shortest time between two NAKs for unreadable frames (ms): a flood of garbage is not answered frame by frame. */
  nakIntervalMs: number;
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

export const DEFAULT_LIMITS: AgentLimits = {
  maxConnections: 16,
  authTimeoutMs: 10_000,
  idleTimeoutMs: 300_000,
  unauthorizedRequests: 8,
  helloFailures: 10,
  helloWindowMs: 60_000,
  pendingPerSession: 4,
  logBurst: 5,
  logWindowMs: 10_000,
  nakIntervalMs: 10,
};

/** The defaults with the limits given (undefined ones ignored). */
export function agentLimits(given: Partial<AgentLimits> = {}): AgentLimits {
  const set = Object.entries(given).filter(([, v]) => v !== undefined);
  return { ...DEFAULT_LIMITS, ...Object.fromEntries(set) };
}

const seconds = (ms: number): string => `${+(ms / 1000).toFixed(1)} s`;

/** Failures per peer within a sliding window (failed HELLOs per remote address). */
export class FailureWindow {
  private failures = new Map<string, number[]>();

  constructor(private readonly limit: number, private readonly windowMs: number, private readonly maxPeers = 4096) {}

  record(peer: string): void {
    const list = this.recent(peer);
    list.push(Date.now());
    if (list.length > this.limit) list.shift();
    this.failures.delete(peer);
    this.failures.set(peer, list);
    // The oldest peers are forgotten first: an address flood cannot grow this without bound.
    if (this.failures.size > this.maxPeers) this.failures.delete(this.failures.keys().next().value as string);
  }

  /** How long `peer` must wait before its HELLO is checked again (0: now). */
  waitMs(peer: string): number {
    const list = this.recent(peer);
    if (list.length < this.limit) return 0;
    return Math.max(1, list[list.length - this.limit] + this.windowMs - Date.now());
  }

  private recent(peer: string): number[] {
    const since = Date.now() - this.windowMs;
    const list = (this.failures.get(peer) ?? []).filter((t) => t > since);
    if (list.length === 0) this.failures.delete(peer);
    return list;
  }
}

interface LogKind { since: number; lines: number; suppressed: number; timer?: NodeJS.Timeout }

/** At most `burst` lines of each kind per window; the rest become "N more … suppressed" at the window's end. */
export class LogLimiter {
  private kinds = new Map<string, LogKind>();

  constructor(private readonly sink: (line: string) => void, private readonly burst: number, private readonly windowMs: number) {}

  log(kind: string, line: string): void {
    const now = Date.now();
    let k = this.kinds.get(kind);
    if (k && now - k.since >= this.windowMs) {
      this.flush(kind, k);
      k = undefined;
    }
    if (!k) this.kinds.set(kind, (k = { since: now, lines: 0, suppressed: 0 }));
    if (k.lines < this.burst) {
      k.lines++;
      return this.sink(line);
    }
    k.suppressed++;
    if (!k.timer) {
      const entry = k;
      k.timer = setTimeout(() => { this.flush(kind, entry); this.kinds.delete(kind); }, k.since + this.windowMs - now);
      k.timer.unref();
    }
  }

  /** Writes the pending summaries. */
  close(): void {
    for (const [kind, k] of this.kinds) this.flush(kind, k);
    this.kinds.clear();
  }

  private flush(kind: string, k: LogKind): void {
    clearTimeout(k.timer);
    k.timer = undefined;
    if (k.suppressed > 0) this.sink(`${k.suppressed} more "${kind}" lines suppressed in ${seconds(this.windowMs)}`);
    k.suppressed = 0;
  }
}

/** Closes a connection that does not authenticate in time, or stays idle too long. */
export class ConnectionWatch {
  private authTimer: NodeJS.Timeout | undefined;
  private idleTimer: NodeJS.Timeout | undefined;
  private last = Date.now();

  constructor(private readonly limits: AgentLimits, private readonly busy: () => boolean, private readonly expire: (why: string) => void) {
    this.authTimer = setTimeout(() => expire(`no successful HELLO within ${seconds(limits.authTimeoutMs)}`), limits.authTimeoutMs);
    this.authTimer.unref();
    this.armIdle(limits.idleTimeoutMs);
  }

  /** A request arrived or an answer left. */
  activity(): void { this.last = Date.now(); }

  authorized(): void { clearTimeout(this.authTimer); }

  stop(): void {
    clearTimeout(this.authTimer);
    clearTimeout(this.idleTimer);
  }

  private armIdle(ms: number): void {
    this.idleTimer = setTimeout(() => {
      const quiet = Date.now() - this.last, limit = this.limits.idleTimeoutMs;
      // A long PROFILE or COMMIT is not idleness: look again once it has been answered.
      if (this.busy()) return this.armIdle(limit);
      if (quiet < limit) return this.armIdle(limit - quiet);
      this.expire(`idle for ${seconds(quiet)}`);
    }, ms);
    this.idleTimer.unref();
  }
}

/** Answers the first request on a connection beyond the limit with ERROR BUSY and closes it (at once after 1 s). */
export function refuseConnection(link: Link, message: string, retryMs: number): void {
  let done = false;
  const finish = (): void => {
    if (done) return;
    done = true;
    clearTimeout(deadline);
    channel.detach();
    void link.close();
  };
  const deadline = setTimeout(finish, 1000);
  const channel = new Channel(link, {
    frame: (f) => {
      // One answer; the peer's further frames (even the rest of this chunk) are not read, and the link closes
      // once the answer has had a moment to leave.
      channel.stopReading();
      channel.send(REPLY_TYPE.error, f.seq, encodeReply({ kind: "error", code: ErrorCode.BUSY, detail: retryMs, message }));
      setTimeout(finish, 100);
    },
    close: finish,
  }, DEFAULT_MAX_FRAME);
}
