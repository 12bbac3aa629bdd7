// The TCP transport over node:net: a client link, and a server that hands every connection to a callback.
import { createConnection, createServer, type Server, type Socket } from "node:net";
import { BaseLink, LinkLimitError } from "./link.js";

/** What a peer that does not read may cost: the output waiting for it, and for how long. */
export interface TcpLimits {
  /** Bytes that may wait for the peer to take them; a write beyond that closes the connection. */
  maxQueuedBytes: number;
  /** How long output may stay backed up before the connection is closed (ms). */
  stallMs: number;
}

/** 1 MiB is 16 of the largest frames: a reading peer never gets near it. */
export const DEFAULT_TCP_LIMITS: TcpLimits = { maxQueuedBytes: 1 << 20, stallMs: 30_000 };

export class TcpLink extends BaseLink {
  readonly description: string;
  readonly peerAddress: string;
  private ending = false;
  private stall: NodeJS.Timeout | undefined;
  private inputPaused = false;

  constructor(private readonly socket: Socket, description?: string, private readonly limits: TcpLimits = DEFAULT_TCP_LIMITS) {
    super();
    socket.setNoDelay(true);
    this.peerAddress = socket.remoteAddress ?? "unknown";
    this.description = description ?? `tcp ${socket.remoteAddress}:${socket.remotePort}`;
    this.stats.peakQueued = 0;
    socket.on("data", (chunk: Buffer) => this.emitData(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength)));
    socket.on("error", (err) => this.emitClose(err));
    socket.on("close", () => {
      clearTimeout(this.stall);
      this.emitClose(this.ending ? undefined : new Error("connection closed by the other end"));
    });
  }

  /** Connects, or rejects with a clear reason (refused, unreachable, timed out). */
  static connect(host: string, port: number, timeoutMs = 5000): Promise<TcpLink> {
    return new Promise((resolve, reject) => {
      const socket = createConnection({ host, port });
      const timer = setTimeout(() => { socket.destroy(); reject(Object.assign(new Error(`tcp ${host}:${port}: no connection after ${timeoutMs} ms`), { code: "ETIMEDOUT" })); }, timeoutMs);
      socket.once("connect", () => { clearTimeout(timer); socket.removeAllListeners("error"); resolve(new TcpLink(socket, `tcp ${host}:${port}`)); });
      // The code (ECONNREFUSED, ENOTFOUND…) goes along: the host's message says in words what it means.
      socket.once("error", (err: NodeJS.ErrnoException) => { clearTimeout(timer); reject(Object.assign(new Error(`tcp ${host}:${port}: ${err.message}`), { code: err.code })); });
    });
  }

  /** Bytes written but not yet taken by the kernel (the peer is slow or does not read). */
  get queued(): number { return this.socket.writableLength; }

  write(bytes: Uint8Array): void {
    if (this.closed) return;
    const queued = this.socket.writableLength + bytes.length;
    if (queued > this.limits.maxQueuedBytes) return this.drop(`the peer does not read: ${queued} bytes would wait for it (limit ${this.limits.maxQueuedBytes})`);
    this.countOut(bytes);
    const flowing = this.socket.write(bytes);
    this.stats.peakQueued = Math.max(this.stats.peakQueued ?? 0, this.socket.writableLength);
    if (!flowing) this.backedUp();
  }

  pauseInput(): void {
    this.inputPaused = true;
    this.socket.pause();
  }

  /** Output waits for the peer: read nothing more from it until it has taken its answers, within stallMs. */
  private backedUp(): void {
    if (this.stall) return;
    this.socket.pause();
    this.stall = setTimeout(() => this.drop(`the peer has not read its answers for ${this.limits.stallMs} ms`), this.limits.stallMs);
    this.socket.once("drain", () => {
      clearTimeout(this.stall);
      this.stall = undefined;
      if (!this.closed && !this.inputPaused) this.socket.resume();
    });
  }

  private drop(reason: string): void {
    clearTimeout(this.stall);
    this.emitClose(new LinkLimitError(reason));
    this.socket.destroy();
  }

  close(): Promise<void> {
    this.ending = true;
    this.emitClose();
    return new Promise((resolve) => {
      if (this.socket.destroyed) return resolve();
      this.socket.once("close", () => resolve());
      this.socket.destroy();
    });
  }
}

export interface TcpServer {
  readonly host: string;
  readonly port: number;
  close(): Promise<void>;
}

export interface ListenOptions extends Partial<TcpLimits> {
  /** Sockets open at once; the system closes any beyond at once (a last line of defence for file descriptors). */
  maxSockets?: number;
}

/** Listens on host:port (port 0 picks a free one) and calls onLink for every connection. */
export function listenTcp(host: string, port: number, onLink: (link: TcpLink) => void, options: ListenOptions = {}): Promise<TcpServer> {
  const sockets = new Set<Socket>();
  const { maxSockets, ...given } = options;
  const limits: TcpLimits = { ...DEFAULT_TCP_LIMITS, ...withoutUndefined(given) };
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
    onLink(new TcpLink(socket, undefined, limits));
  });
  if (maxSockets) server.maxConnections = maxSockets;
  return new Promise((resolve, reject) => {
    server.once("error", (err) => reject(new Error(`cannot listen on ${host}:${port}: ${err.message}`)));
    server.listen(port, host, () => {
      const address = server.address();
      const bound = typeof address === "object" && address ? address.port : port;
      resolve({
        host, port: bound,
        close: () => new Promise<void>((done) => {
          for (const s of sockets) s.destroy();
          server.close(() => done());
        }),
      });
    });
  });
}

function withoutUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/** Splits "host:port", "[::1]:port" or ":port"; the host defaults to 127.0.0.1 (loopback only). */
export function parseHostPort(text: string, defaultHost = "127.0.0.1"): { host: string; port: number } | null {
  const m = /^(?:\[([^\]]+)\]|([^:]*)):(\d{1,5})$/.exec(text.trim()) ?? /^(\d{1,5})$/.exec(text.trim());
  if (!m) return null;
  const port = Number(m.length === 4 ? m[3] : m[1]);
  if (port > 65535) return null;
  const host = m.length === 4 ? (m[1] ?? m[2]) || defaultHost : defaultHost;
  return { host, port };
}
