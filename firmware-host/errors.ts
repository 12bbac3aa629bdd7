// The errors a host sees: the device refused a request (DeviceError) or the link failed (LinkError).
import { errorName } from "./messages.js";

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

/** The device answered something that makes no sense for the request (a bug on one of the two ends). */
export class ProtocolError extends Error {
  override name = "ProtocolError";
}
