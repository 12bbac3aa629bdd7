// Who may talk to the agent on one link: HELLO checked before any other body is decoded, failed HELLOs limited per
// address, and connection links closed when their peer fails a HELLO, stays unauthenticated or idle too long.
import type { Agent } from "./agent.js";
import { BodyError } from "./bytes.js";
import { PROTOCOL_VERSION, type Frame } from "./frame.js";
import { ConnectionWatch } from "./limits.js";
import { LinkLimitError, type Link } from "./link.js";
import { ErrorCode, MsgType, decodeRequest, type Reply, type Request } from "./messages.js";

export type HelloRequest = Extract<Request, { kind: "hello" }>;

export const versionError = (version: number): Reply => ({
  kind: "error", code: ErrorCode.BAD_VERSION, detail: PROTOCOL_VERSION, message: `protocol version ${version} is not supported; this device speaks ${PROTOCOL_VERSION}`,
});

const unauthorized = (message: string): Reply => ({ kind: "error", code: ErrorCode.UNAUTHORIZED, detail: 0, message });

export class Gate {
  authorized: boolean;
  /** A HELLO failed on a connection link: nothing the peer sent after it is evaluated, and the connection closes. */
  rejected = false;
  /** Frames answered before a successful HELLO. */
  private unauthorizedFrames = 0;
  private lastNak = -Infinity;
  /** Timeouts of connection links (TCP, local); a serial line is the device's only link and is never closed. */
  private readonly watch: ConnectionWatch | null = null;
  /** Connection links (TCP, local) can be closed; a serial line cannot. */
  private readonly connection: boolean;

  /** `busy`: the session has a request queued or running (then it is not idle). */
  constructor(private readonly agent: Agent, private readonly link: Link, busy: () => boolean) {
    this.connection = Boolean(agent.options.requireHello);
    this.authorized = !this.connection && agent.options.token === undefined;
    if (this.connection) this.watch = new ConnectionWatch(agent.limits, busy, (why) => this.drop(why));
  }

  private get peer(): string { return this.link.peerAddress ?? this.link.description; }

  /** A frame arrived (unreadable ones do not count). */
  received(): void { this.watch?.activity(); }

  /** True when an unreadable frame is to be NAKed: at most once per nakIntervalMs, so that garbage is not answered piece by piece. */
  nakNow(): boolean {
    const now = performance.now();
    if (this.rejected || now - this.lastNak < this.agent.limits.nakIntervalMs) return false;
    this.lastNak = now;
    return true;
  }

  /**
   * Before a successful HELLO, from the frame's type alone: the answer, or the decoded HELLO to check with hello().
   * No other body is decoded, and a HELLO only while its address has not failed too often.
   */
  preAuth(f: Frame): Reply | HelloRequest {
    const limits = this.agent.limits;
    if (this.connection && ++this.unauthorizedFrames > limits.unauthorizedRequests) {
      this.rejected = true;
      return unauthorized(`${limits.unauthorizedRequests} requests without a successful HELLO; closing`);
    }
    if (f.version !== PROTOCOL_VERSION) return versionError(f.version);
    if (f.type !== MsgType.HELLO) return unauthorized("say HELLO with the device's token first");
    const wait = this.agent.helloFailures.waitMs(this.peer);
    if (wait > 0) {
      this.rejected = this.connection;
      this.agent.log(`HELLO from ${this.link.description} not checked: ${limits.helloFailures} failed HELLOs from ${this.peer} within ${limits.helloWindowMs / 1000} s`, "busy");
      return { kind: "error", code: ErrorCode.BUSY, detail: wait, message: `too many failed HELLOs from ${this.peer}; try again in ${Math.ceil(wait / 1000)} s` };
    }
    try {
      return decodeRequest(f.type, f.body) as HelloRequest;
    } catch (e) {
      if (!(e instanceof BodyError)) throw e;
      return this.failed("a malformed HELLO", `malformed HELLO (${e.message})`);
    }
  }

  /** Checks a HELLO's token: null when it opens the session, the refusal otherwise. */
  hello(req: HelloRequest): Reply | null {
    if (!this.agent.tokenMatches(req.token)) return this.failed("a wrong token", "wrong token");
    this.authorized = true;
    this.watch?.authorized();
    return null;
  }

  /** An answer left: on a rejected connection, the link closes once it had a moment to go out. */
  answered(): void {
    this.watch?.activity();
    if (!this.rejected) return;
    this.agent.noteDrop(`closing ${this.link.description} after a failed HELLO`);
    setTimeout(() => void this.link.close(), 100);
  }

  /** The link closed: timers stop; a transport's own limit (a peer that does not read) is counted and logged. */
  closed(reason?: Error): void {
    this.watch?.stop();
    if (reason instanceof LinkLimitError) this.agent.noteDrop(`closed ${this.link.description}: ${reason.message}`);
  }

  /** Counts the failure against the address; on a connection link nothing more is read and the connection closes. */
  private failed(what: string, message: string): Reply {
    this.authorized = false;
    this.agent.helloFailures.record(this.peer);
    this.rejected = this.connection;
    this.agent.log(`HELLO from ${this.link.description} with ${what}: rejected`, "wrong token");
    return unauthorized(message);
  }

  private drop(why: string): void {
    if (this.link.closed) return;
    this.agent.noteDrop(`closing ${this.link.description}: ${why}`);
    void this.link.close();
  }
}
