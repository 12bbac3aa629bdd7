// The errors a host sees: the device refused a request (DeviceError) or the link failed (LinkError).
import { ErrorCode, errorName } from "./messages.js";

/** The device answered ERROR: final for that request; repeating it gives the same answer. */
export class DeviceError extends Error {
  override name = "DeviceError";
  readonly codeName: string;

  constructor(readonly request: string, readonly code: number, readonly detail: number, deviceMessage: string) {
    super(`device refused ${request}: ${errorName(code)}${deviceMessage ? ` (${deviceMessage})` : ""}`);
    this.codeName = errorName(code);
  }
}

/** No usable answer: the link closed, or every attempt timed out. A new session may succeed. */
export class LinkError extends Error {
  override name = "LinkError";
}

/** The link could not even be opened: nothing was said to the device, so nothing about it is known. */
export class UnreachableError extends LinkError {
  override name = "UnreachableError";
  /** The transport's own words without the address ("connect ECONNREFUSED 127.0.0.1:7000"); tables show it. */
  readonly reason: string;
  /** The system's error code, when there is one (ECONNREFUSED, ENOTFOUND, …). */
  readonly code: string | undefined;

  constructor(readonly device: string, cause: Error & { code?: string }) {
    const reason = cause.message.replace(/^tcp \S+: /, "").replace(/\bError: /g, "");
    super(`could not reach the device ${device}: ${plainReason(cause.code, reason)}`);
    this.reason = reason;
    this.code = cause.code;
  }
}

/** What the common connection failures mean, in words; the transport's text when it is none of them. */
function plainReason(code: string | undefined, reason: string): string {
  const host = /(?:getaddrinfo \w+ )(\S+)/.exec(reason)?.[1];
  switch (code) {
    case "ECONNREFUSED": return `connection refused, nothing listens at that address (${reason})`;
    case "ENOTFOUND": return `unknown host${host ? ` '${host}'` : ""} (${reason})`;
    case "EAI_AGAIN": return `the host name${host ? ` '${host}'` : ""} could not be looked up (${reason})`;
    case "EHOSTUNREACH": case "ENETUNREACH": return `no route to the host (${reason})`;
    case "ETIMEDOUT": return `no answer to the connection attempt (${reason})`;
    default: return reason;
  }
}

/** HELLO without a token was refused: the device needs one. */
export class TokenNeededError extends DeviceError {
  override name = "TokenNeededError";

  constructor(device: string, code: number, detail: number, deviceMessage: string, tcp: boolean) {
    super("HELLO", code, detail, deviceMessage);
    this.message = `this device needs a token: ${device} refused HELLO without one (${errorName(code)}); add ?token-env=NAME to the device URI, `
      + `NAME being the environment variable that holds it${tcp ? ", or set KILN_TOKEN" : ""}`;
  }

  static matches(e: unknown): e is DeviceError {
    return e instanceof DeviceError && e.code === ErrorCode.UNAUTHORIZED;
  }
}

/** The device answered something that makes no sense for the request (a bug on one of the two ends). */
export class ProtocolError extends Error {
  override name = "ProtocolError";
}
