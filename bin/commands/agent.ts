// `kiln agent`: the device side — serves deploys, runs and profiles over a serial port or TCP from a model store.
import { dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { KilnError, UsageError } from "../../compiler/errors.js";
import { createAgent, serveSerial, serveTcp, SERIAL_MAX_FRAME, STREAM_MAX_FRAME, type Serving } from "../../firmware-host/serve.js";
import { DEFAULT_LIMITS, type AgentLimits } from "../../firmware-host/limits.js";
import { parseHostPort } from "../../firmware-host/tcp.js";
import { agentToken, TOKEN_ENV } from "../agent-token.js";
import { defineCommand, parseArgs, requirePositionals, type OptionValues } from "../args.js";
import { formatBytes, type Io } from "../io.js";

export const agentSpec = defineCommand({
  name: "agent",
  summary: "the device side: serve deploys, runs and profiles over a serial port or TCP",
  usage: "kiln agent (--serial <path> [--baud 115200] | --tcp <host:port> [--token-file <path>]) --store <dir>",
  options: {
    serial: { type: "string", description: "serial port to serve, e.g. /dev/ttyGS0" },
    baud: { type: "number", integer: true, min: 1, max: 10_000_000, description: "serial baud rate", default: 115200 },
    tcp: { type: "string", description: "address to listen on: host:port, or :port / port for 127.0.0.1 only" },
    "token-file": { type: "string", description: `file holding the secret a host must send in HELLO (one line; refused when other users may read it). --tcp needs a token: this, ${TOKEN_ENV} or --token` },
    token: { type: "string", description: `the shared secret itself (discouraged: other users see it in ps; use --token-file or ${TOKEN_ENV})` },
    store: { type: "string", description: "directory holding the committed model and pending uploads" },
    name: { type: "string", description: "device name announced in HELLO", defaultText: "the host name" },
    "max-frame": { type: "number", integer: true, min: 256, max: 65536, description: "largest frame in bytes", defaultText: "4096 on serial, 65536 on TCP" },
    "memory-limit": { type: "number", min: 1, max: 4095, description: "MiB of linear memory a blob may use", default: 256 },
    "run-limit": { type: "number", integer: true, min: 10, max: 3_600_000, description: "ms a blob may take to start or to answer one RUN, PROFILE or EVAL (then TIMEOUT)", default: 10_000, defaultText: "10000 = 10 s" },
    "max-connections": { type: "number", integer: true, min: 1, max: 10_000, description: "TCP connections served at once; more are answered BUSY", default: DEFAULT_LIMITS.maxConnections },
    "auth-timeout": { type: "number", integer: true, min: 1, max: 3600, description: "seconds a TCP connection has to say a good HELLO", default: DEFAULT_LIMITS.authTimeoutMs / 1000 },
    "idle-timeout": { type: "number", integer: true, min: 1, max: 86_400, description: "seconds a TCP connection may stay silent", default: DEFAULT_LIMITS.idleTimeoutMs / 1000 },
    "hello-failures": { type: "number", integer: true, min: 1, max: 1_000_000, description: "failed HELLOs per address per minute before its HELLOs get BUSY", default: DEFAULT_LIMITS.helloFailures },
    quiet: { type: "boolean", short: "q", description: "log only errors" },
  },
});

export async function agentCommand(argv: string[], io: Io): Promise<void> {
  const parsed = parseArgs(agentSpec, argv);
  requirePositionals(agentSpec, parsed, 0, "nothing");
  const o = parsed.options;
  const { serial, tcp, store } = o;
  if (Boolean(serial) === Boolean(tcp)) throw new UsageError(`kiln agent: give exactly one of --serial and --tcp (usage: ${agentSpec.usage})`);
  if (!store) throw new UsageError(`kiln agent: --store <dir> is required (usage: ${agentSpec.usage})`);
  const address = tcp ? parseHostPort(tcp) : null;
  if (tcp && !address) throw new UsageError(`kiln agent: --tcp must be host:port or :port, got '${tcp}'`);
  const token = agentToken({ token: o.token, tokenFile: o["token-file"], warn: io.err });
  if (tcp && token === undefined) throw new UsageError(`kiln agent: --tcp needs a token every host must present in HELLO: --token-file <path> or the ${TOKEN_ENV} environment variable`);
  // Ranges were checked when parsing (agentSpec states them).
  const maxFrame = o["max-frame"] ?? (serial ? SERIAL_MAX_FRAME : STREAM_MAX_FRAME);
  const memoryMiB = o["memory-limit"], runLimitMs = o["run-limit"];

  if (serial) await loadSerialport();
  const limits = connectionLimits(o);
  const log = (line: string): void => { if (!o.quiet) io.err(`kiln agent: ${line}`); };
  const agent = await createAgent({
    store, maxFrame, token, requireHello: Boolean(tcp), name: o.name,
    memoryLimit: Math.floor(memoryMiB * 1024 * 1024), log, limits, runLimitMs,
  }).catch((e: Error) => { throw new KilnError(`kiln agent: cannot open the store ${store}: ${e.message}`); });
  let serving: Serving;
  try {
    serving = serial ? await serveSerial(agent, serial, o.baud) : await serveTcp(agent, address!.host, address!.port);
  } catch (e) {
    await agent.close();
    throw new KilnError(`kiln agent: ${(e as Error).message}`);
  }
  const active = agent.store.active;
  io.out(`kiln agent: serving ${serving.where}, store ${store}, `
    + (active ? `model ${active.id.slice(0, 12)} (${active.model.info.model}, ${formatBytes(active.bytes.length)})` : "no model yet")
    + (agent.store.pending ? `, pending upload at ${agent.store.pending.received} of ${agent.store.pending.size} bytes` : ""));

  const stopped = new Promise<"signal">((resolve) => {
    const stop = (): void => resolve("signal");
    process.once("SIGINT", stop);
    process.once("SIGTERM", stop);
  });
  const outcome = await Promise.race([stopped, serving.ended]);
  await serving.close();
  await agent.close();
  if (outcome !== "signal") throw new KilnError(`kiln agent: ${serving.where} went away${outcome ? `: ${outcome.message}` : ""}`);
  log("stopped");
}

/**
 * Loads `serialport` before anything else starts, so that a one-file agent without it says how to install it. It is
 * never bundled (a native binding per platform): it comes from a node_modules folder next to the file or above it.
 */
async function loadSerialport(): Promise<void> {
  try {
    await import("serialport");
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code !== "ERR_MODULE_NOT_FOUND" && code !== "MODULE_NOT_FOUND") throw new KilnError(`kiln agent: cannot load serialport: ${(e as Error).message}`);
    const here = dirname(fileURLToPath(import.meta.url));
    throw new KilnError(`kiln agent: --serial needs the serialport package, which is not installed: run 'npm install serialport@13' in ${here}`);
  }
}

/** --max-connections, --auth-timeout, --idle-timeout and --hello-failures (ranges checked by parseArgs) as the agent's limits. */
function connectionLimits(o: OptionValues<typeof agentSpec.options>): Partial<AgentLimits> {
  return {
    maxConnections: o["max-connections"],
    authTimeoutMs: o["auth-timeout"] * 1000,
    idleTimeoutMs: o["idle-timeout"] * 1000,
    helloFailures: o["hello-failures"],
  };
}
