// The TCP transport over node:net: a client link, and a server that hands every connection to a callback.
import { createConnection, createServer, type Server, type Socket } from "node:net";
import { BaseLink } from "./link.js";

export class TcpLink extends BaseLink {
  readonly description: string;
  private ending = false;

  constructor(private readonly socket: Socket, description?: string) {
    super();
    socket.setNoDelay(true);
    this.description = description ?? `tcp ${socket.remoteAddress}:${socket.remotePort}`;
    socket.on("data", (chunk: Buffer) => this.emitData(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength)));
    socket.on("error", (err) => this.emitClose(err));
    socket.on("close", () => this.emitClose(this.ending ? undefined : new Error("connection closed by the other end")));
  }

  /** Connects, or rejects with a clear reason (refused, unreachable, timed out). */
  static connect(host: string, port: number, timeoutMs = 5000): Promise<TcpLink> {
    return new Promise((resolve, reject) => {
      const socket = createConnection({ host, port });
      const timer = setTimeout(() => { socket.destroy(); reject(new Error(`tcp ${host}:${port}: no connection after ${timeoutMs} ms`)); }, timeoutMs);
      socket.once("connect", () => { clearTimeout(timer); socket.removeAllListeners("error"); resolve(new TcpLink(socket, `tcp ${host}:${port}`)); });
      socket.once("error", (err) => { clearTimeout(timer); reject(new Error(`tcp ${host}:${port}: ${err.message}`)); });
    });
  }

  write(bytes: Uint8Array): void {
    if (this.closed) return;
    this.countOut(bytes);
    this.socket.write(bytes);
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

/** Listens on host:port (port 0 picks a free one) and calls onLink for every connection. */
export function listenTcp(host: string, port: number, onLink: (link: TcpLink) => void): Promise<TcpServer> {
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
    onLink(new TcpLink(socket));
  });
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

/** Splits "host:port", "[::1]:port" or ":port"; the host defaults to 127.0.0.1 (loopback only). */
export function parseHostPort(text: string, defaultHost = "127.0.0.1"): { host: string; port: number } | null {
  const m = /^(?:\[([^\]]+)\]|([^:]*)):(\d{1,5})$/.exec(text.trim()) ?? /^(\d{1,5})$/.exec(text.trim());
  if (!m) return null;
  const port = Number(m.length === 4 ? m[3] : m[1]);
  if (port > 65535) return null;
  const host = m.length === 4 ? (m[1] ?? m[2]) || defaultHost : defaultHost;
  return { host, port };
}
