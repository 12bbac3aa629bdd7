// The devices of a fleet command: repeated --device options and a --fleet file, every line checked before any connection.
import { KilnError, UsageError } from "../compiler/errors.js";
import { readInputFile } from "../io/input-file.js";
import { carriesInlineToken, describeDeviceUri, DeviceUriError, parseDeviceUri, redactTokens, type DeviceUri } from "../firmware-host/device-uri.js";

/** A fleet file is a short list typed by a person: these bounds are far above that and keep a wrong file cheap. */
export const FLEET_LIMITS = {
  /** Devices in one command (file and --device together): each is a concurrent connection. */
  maxDevices: 256,
  maxFileBytes: 64 * 1024,
  maxLines: 4096,
  maxLineChars: 2048,
} as const;

export interface FleetDevice {
  uri: DeviceUri;
  /** The URI without its token, as tables and messages show it. */
  description: string;
  /** Where it was given: `fleet.txt:3` or `--device`. */
  source: string;
}

/** `tcp://pi-1:7000?token-env=PI_TOKEN  # kitchen` → the URI; blank lines and `#` comments → null. */
function uriOfLine(line: string): string | null {
  // A comment starts at a `#` that begins the line or follows a blank (a URI has no blanks), as in a shell.
  const comment = line.search(/(^|\s)#/);
  const text = (comment < 0 ? line : line.slice(0, comment)).trim();
  return text || null;
}

/** The devices a fleet file lists, in order; the first bad line is a UsageError naming `path:line`. */
export function parseFleetText(command: string, path: string, text: string): FleetDevice[] {
  const lines = text.split(/\r?\n/);
  if (lines.length > FLEET_LIMITS.maxLines) throw new UsageError(`kiln ${command}: ${path}: ${lines.length} lines; a fleet file has at most ${FLEET_LIMITS.maxLines}`);
  const devices: FleetDevice[] = [];
  lines.forEach((line, i) => {
    const where = `${path}:${i + 1}`;
    if (line.length > FLEET_LIMITS.maxLineChars) throw new UsageError(`kiln ${command}: ${where}: a line of ${line.length} characters; at most ${FLEET_LIMITS.maxLineChars}`);
    const uri = uriOfLine(line);
    if (uri === null) return;
    // Checked before the URI is parsed, so that this is the message even when the line has other faults too.
    if (carriesInlineToken(uri)) {
      throw new UsageError(`kiln ${command}: ${where}: a fleet file must not hold a token (it may be committed or shared); `
        + "write token-env=NAME instead and set the environment variable NAME to the token");
    }
    if (/\s/.test(uri)) throw new UsageError(`kiln ${command}: ${where}: one device URI per line (a comment starts with #), got '${redactTokens(uri).slice(0, 120)}'`);
    if (devices.length === FLEET_LIMITS.maxDevices) throw new UsageError(`kiln ${command}: ${where}: more than ${FLEET_LIMITS.maxDevices} devices; a fleet has at most ${FLEET_LIMITS.maxDevices}`);
    devices.push({ ...parsed(command, where, uri), source: where });
  });
  if (devices.length === 0) throw new UsageError(`kiln ${command}: ${path}: no devices (one device URI per line; # starts a comment)`);
  return devices;
}

function parsed(command: string, where: string, text: string): { uri: DeviceUri; description: string } {
  try {
    const uri = parseDeviceUri(text);
    return { uri, description: describeDeviceUri(uri) };
  } catch (e) {
    if (e instanceof DeviceUriError) throw new UsageError(`kiln ${command}: ${where}: ${e.message}`);
    throw e;
  }
}

export function readFleetFile(command: string, path: string): FleetDevice[] {
  let bytes: Uint8Array;
  try {
    bytes = readInputFile(path, "a fleet file", FLEET_LIMITS.maxFileBytes);
  } catch (e) {
    throw new KilnError(`kiln ${command}: ${(e as Error).message}`);
  }
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    throw new UsageError(`kiln ${command}: ${path}: not UTF-8 text (a fleet file lists one device URI per line)`);
  }
  return parseFleetText(command, path, text.replace(/^\uFEFF/, ""));
}

/**
 * The devices of `--device A --device B … [--fleet FILE]`, files' first; the same device twice is refused (two
 * uploads to one device at once would compete for its one pending upload).
 */
export function fleetDevices(command: string, deviceOptions: string[], fleetFile: string | undefined): FleetDevice[] {
  const devices = fleetFile ? readFleetFile(command, fleetFile) : [];
  for (const text of deviceOptions) devices.push({ ...parsed(command, "--device", text), source: "--device" });
  if (devices.length > FLEET_LIMITS.maxDevices) throw new UsageError(`kiln ${command}: ${devices.length} devices; a fleet has at most ${FLEET_LIMITS.maxDevices}`);
  const seen = new Map<string, string>();
  for (const d of devices) {
    const first = seen.get(d.description);
    if (first) throw new UsageError(`kiln ${command}: ${d.source}: ${d.description} is already listed (${first})`);
    seen.set(d.description, d.source);
  }
  return devices;
}
