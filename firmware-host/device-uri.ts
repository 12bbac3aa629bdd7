// Device URIs: `serial:/dev/ttyUSB0?baud=115200`, `tcp://host:port?token-env=NAME`, `local[?store=DIR]` (docs/protocol.md).

interface Common {
  /** The host's largest frame (HELLO proposes it). */
  frame?: number;
  /** Base timeout per attempt, in milliseconds. */
  timeoutMs?: number;
  token?: string;
  /** The name of the environment variable that holds the token, read when connecting (deviceToken). */
  tokenEnv?: string;
}

export type DeviceUri =
  | ({ kind: "serial"; path: string; baud: number } & Common)
  | ({ kind: "tcp"; host: string; port: number } & Common)
  | ({ kind: "local"; store?: string } & Common);

export class DeviceUriError extends Error {
  override name = "DeviceUriError";
}

const EXAMPLES = "serial:/dev/ttyUSB0?baud=115200, tcp://host:port?token-env=NAME or local";

/** The variable a tcp device's token comes from when its URI names none (the agent reads the same name). */
export const DEFAULT_TOKEN_ENV = "KILN_TOKEN";

/** A portable environment variable name (POSIX: letters, digits, underscore; not starting with a digit). */
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,127}$/;

function isTokenName(key: string): boolean {
  try {
    return decodeURIComponent(key.replace(/\+/g, " ")).trim().toLowerCase() === "token";
  } catch {
    return key.toLowerCase() === "token";
  }
}

/**
 * Text as messages may show it: every `token=` value of a URI query (however the name is escaped) and any
 * `user:password@` of a URI replaced by ***, so that a secret never reaches a terminal or a log.
 */
export function redactTokens(text: string): string {
  return text
    .replace(/([?&])([^=&#\s'"]*)=([^&#\s'"]*)/g, (pair, sep: string, key: string) => (isTokenName(key) ? `${sep}${key}=***` : pair))
    .replace(/\b([a-z][a-z0-9+.-]*:\/\/)[^/?#\s'"@]*@/gi, "$1***@");
}

export const redactDeviceUri = redactTokens;

/** Whether a URI's text carries a secret itself: a `token=` parameter (however escaped) or a `user:password@` part. */
export function carriesInlineToken(text: string): boolean {
  if (/\b[a-z][a-z0-9+.-]*:\/\/[^/?#\s'"@]*@/i.test(text)) return true;
  const q = text.indexOf("?");
  return q >= 0 && [...new URLSearchParams(text.slice(q + 1)).keys()].some((key) => key.trim().toLowerCase() === "token");
}

function positiveInt(uri: string, key: string, value: string, max: number): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n <= 0 || n > max) throw new DeviceUriError(`device '${redactDeviceUri(uri)}': ${key} must be a whole number from 1 to ${max}, got '${value}'`);
  return n;
}

function readQuery(uri: string, query: string, allowed: string[]): Map<string, string> {
  const params = new URLSearchParams(query);
  const out = new Map<string, string>();
  for (const [key, value] of params) {
    if (!allowed.includes(key)) throw new DeviceUriError(`device '${redactDeviceUri(uri)}': unknown parameter '${key}' (allowed: ${allowed.join(", ")})`);
    out.set(key, value);
  }
  return out;
}

function common(uri: string, q: Map<string, string>): Common {
  const c: Common = {};
  if (q.has("frame")) c.frame = positiveInt(uri, "frame", q.get("frame") as string, 65536);
  if (q.has("timeout")) c.timeoutMs = positiveInt(uri, "timeout", q.get("timeout") as string, 600_000);
  if (q.has("token")) c.token = q.get("token");
  if (q.has("token-env")) {
    const name = q.get("token-env") as string;
    if (!ENV_NAME.test(name)) throw new DeviceUriError(`device '${redactDeviceUri(uri)}': token-env must name an environment variable (letters, digits, _), got '${name.slice(0, 40)}'`);
    if (c.token !== undefined) throw new DeviceUriError(`device '${redactDeviceUri(uri)}': give token= or token-env=, not both`);
    c.tokenEnv = name;
  }
  return c;
}

export function parseDeviceUri(text: string): DeviceUri {
  const uri = text.trim();
  const q = uri.indexOf("?");
  const head = q < 0 ? uri : uri.slice(0, q), query = q < 0 ? "" : uri.slice(q + 1);
  if (head === "local" || head === "local:") {
    const params = readQuery(uri, query, ["store", "frame", "timeout"]);
    return { kind: "local", store: params.get("store") || undefined, ...common(uri, params) };
  }
  if (head.startsWith("serial:")) {
    let path = head.slice("serial:".length);
    if (path.startsWith("///")) path = path.slice(2);
    if (!path || path.startsWith("//")) throw new DeviceUriError(`device '${redactDeviceUri(uri)}': no serial port path (e.g. serial:/dev/ttyUSB0)`);
    const params = readQuery(uri, query, ["baud", "token", "token-env", "frame", "timeout"]);
    const baud = params.has("baud") ? positiveInt(uri, "baud", params.get("baud") as string, 20_000_000) : 115200;
    return { kind: "serial", path: decodeURIComponent(path), baud, ...common(uri, params) };
  }
  if (head.startsWith("tcp://")) {
    let url: URL;
    try {
      url = new URL(uri);
    } catch {
      throw new DeviceUriError(`device '${redactDeviceUri(uri)}': not a valid tcp://host:port URI`);
    }
    if (!url.hostname || !url.port) throw new DeviceUriError(`device '${redactDeviceUri(uri)}': tcp URIs need a host and a port (tcp://host:port)`);
    if (url.username || url.password) throw new DeviceUriError(`device '${redactDeviceUri(uri)}': credentials in the URI are not supported; pass the token as ?token-env=NAME or ?token=`);
    if (url.pathname && url.pathname !== "/") throw new DeviceUriError(`device '${redactDeviceUri(uri)}': unexpected path '${url.pathname}'`);
    const params = readQuery(uri, query, ["token", "token-env", "frame", "timeout"]);
    const host = url.hostname.startsWith("[") ? url.hostname.slice(1, -1) : url.hostname;
    return { kind: "tcp", host, port: Number(url.port), ...common(uri, params) };
  }
  throw new DeviceUriError(`device '${redactDeviceUri(uri)}' is not a device URI (use ${EXAMPLES})`);
}

/** The URI for messages: without the token. */
export function describeDeviceUri(uri: DeviceUri): string {
  switch (uri.kind) {
    case "serial": return `serial:${uri.path}?baud=${uri.baud}`;
    case "tcp": return `tcp://${uri.host.includes(":") ? `[${uri.host}]` : uri.host}:${uri.port}`;
    case "local": return uri.store ? `local?store=${uri.store}` : "local";
  }
}

/**
 * The token to send in HELLO, read when connecting: `token=`, else the variable `token-env=` names (unset or empty is
 * an error naming it), else for tcp devices KILN_TOKEN when it is set. Serial and local devices need no token
 * unless their URI gives one.
 */
export function deviceToken(uri: DeviceUri, env: NodeJS.ProcessEnv = process.env): string | undefined {
  if (uri.token !== undefined) return uri.token;
  if (uri.tokenEnv !== undefined) {
    const value = env[uri.tokenEnv];
    if (!value) throw new DeviceUriError(`${describeDeviceUri(uri)}: token-env=${uri.tokenEnv} names an environment variable that is ${value === undefined ? "not set" : "empty"}; set it to the device's token`);
    return value;
  }
  return uri.kind === "tcp" ? env[DEFAULT_TOKEN_ENV] || undefined : undefined;
}
