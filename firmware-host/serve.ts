// Starting an agent: the store, and serving it on a serial port, a TCP listener or an in-process link.
import { Agent, type AgentOptions } from "./agent.js";
import { LIMIT_MAX_FRAME } from "./frame.js";
import type { Link } from "./link.js";
import { SerialLink } from "./serial.js";
import { ModelStore } from "./store.js";
import { listenTcp, type TcpLimits, type TcpServer } from "./tcp.js";

/** What the agent takes (agent.ts AgentOptions), with the store as a folder and the frame size optional. */
export interface AgentSetup extends Omit<AgentOptions, "store" | "maxFrame"> {
  store: string;
  maxFrame?: number;
  memoryLimit?: number;
  maxBlob?: number;
}

export const DEFAULT_MEMORY_LIMIT = 256 * 1024 * 1024;
export const DEFAULT_MAX_BLOB = 64 * 1024 * 1024;
/** Frame sizes the agent offers: small enough for a microcontroller's UART buffer on serial. */
export const SERIAL_MAX_FRAME = 4096, STREAM_MAX_FRAME = LIMIT_MAX_FRAME;

export async function createAgent(setup: AgentSetup): Promise<Agent> {
  const store = await ModelStore.open(setup.store, {
    memoryLimit: setup.memoryLimit ?? DEFAULT_MEMORY_LIMIT, maxBlob: setup.maxBlob ?? DEFAULT_MAX_BLOB, log: setup.log,
    runLimitMs: setup.runLimitMs,
  });
  const { memoryLimit: _memory, maxBlob: _maxBlob, ...agentOptions } = setup;
  return new Agent({ ...agentOptions, store, maxFrame: setup.maxFrame ?? STREAM_MAX_FRAME });
}

export interface Serving {
  /** Where the agent listens, e.g. "serial /dev/ttyUSB0 @ 115200 baud" or "tcp 127.0.0.1:7000". */
  readonly where: string;
  /** Resolves when serving stopped by itself (the serial port went away), with the reason. */
  readonly ended: Promise<Error | undefined>;
  close(): Promise<void>;
}

export async function serveSerial(agent: Agent, path: string, baud: number): Promise<Serving> {
  const link: Link = await SerialLink.open(path, { baudRate: baud });
  const ended = new Promise<Error | undefined>((resolve) => link.onClose((reason) => resolve(reason)));
  agent.serve(link);
  return { where: link.description, ended, close: () => link.close() };
}

/** Serves TCP connections; `tcp` bounds what a peer that does not read may cost (DEFAULT_TCP_LIMITS). */
export async function serveTcp(agent: Agent, host: string, port: number, tcp: Partial<TcpLimits> = {}): Promise<Serving & { port: number }> {
  let server: TcpServer | undefined;
  let stop: (reason?: Error) => void = () => {};
  const ended = new Promise<Error | undefined>((resolve) => { stop = resolve; });
  server = await listenTcp(host, port, (link) => {
    agent.log(`connection from ${link.description.replace(/^tcp /, "")}`, "connection");
    agent.serve(link);
  // Beyond the sessions and the connections being refused, the system closes new sockets at once.
  }, { ...tcp, maxSockets: 2 * agent.limits.maxConnections + 8 });
  const bound = server;
  return {
    where: `tcp ${host.includes(":") ? `[${host}]` : host}:${bound.port}`, port: bound.port, ended,
    close: async () => { await bound.close(); stop(); server = undefined; },
  };
}
