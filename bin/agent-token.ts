// Where `kiln agent` gets its token: a file only its owner can read, the KILN_TOKEN variable, or (warned) --token.
import { closeSync, fstatSync, openSync, readSync } from "node:fs";
import { UsageError } from "../compiler/errors.js";

/** The environment variable that holds the token (the host side reads the same name by default). */
export const TOKEN_ENV = "KILN_TOKEN";

/** A token longer than this is a wrong file, not a secret (HELLO carries at most 64 KiB, a useful token far less). */
export const MAX_TOKEN_BYTES = 4096;

export interface TokenSources {
  /** --token: visible to every user of the machine in `ps`. */
  token?: string;
  /** --token-file */
  tokenFile?: string;
  env?: NodeJS.ProcessEnv;
  /** Where a warning about an unsafe choice goes. */
  warn(line: string): void;
}

/**
 * The agent's token, or undefined when none was given. A flag wins over KILN_TOKEN; --token and --token-file together
 * are a usage error. Throws a one-line UsageError naming the source for an empty token or an unsafe file.
 */
export function agentToken(sources: TokenSources): string | undefined {
  const { token, tokenFile, env = process.env } = sources;
  if (token !== undefined && tokenFile !== undefined) throw new UsageError("kiln agent: give --token-file or --token, not both");
  if (tokenFile !== undefined) return readTokenFile(tokenFile);
  if (token !== undefined) {
    sources.warn(`kiln agent: warning: --token is visible to every user of this machine (ps); use --token-file <path> or the ${TOKEN_ENV} environment variable`);
    return checked(token, "--token");
  }
  const fromEnv = env[TOKEN_ENV];
  return fromEnv === undefined ? undefined : checked(stripNewline(fromEnv), `the ${TOKEN_ENV} environment variable`);
}

/** The token in `path`: a regular file of at most MAX_TOKEN_BYTES that no "other" user may read or write. */
export function readTokenFile(path: string): string {
  let fd: number;
  try {
    fd = openSync(path, "r");
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const why = code === "ENOENT" ? "no such file" : code === "EACCES" ? "permission denied" : code === "EISDIR" ? "it is a folder" : code ?? "unreadable";
    throw new UsageError(`kiln agent: cannot read the token file ${path}: ${why}`);
  }
  try {
    // Checked on the open file, so the file checked is the file read.
    const stat = fstatSync(fd);
    if (!stat.isFile()) throw new UsageError(`kiln agent: the token file ${path} is not a regular file`);
    if (process.platform !== "win32" && (stat.mode & 0o007) !== 0) {
      const mode = (stat.mode & 0o777).toString(8).padStart(4, "0");
      throw new UsageError(`kiln agent: the token file ${path} is open to other users (mode ${mode}): run chmod o-rwx ${path} (or chmod 600)`);
    }
    if (stat.size > MAX_TOKEN_BYTES) throw new UsageError(`kiln agent: the token file ${path} has ${stat.size} bytes; a token is at most ${MAX_TOKEN_BYTES}`);
    const buffer = Buffer.alloc(MAX_TOKEN_BYTES + 1);
    let length = 0, n: number;
    while (length < buffer.length && (n = readSync(fd, buffer, length, buffer.length - length, null)) > 0) length += n;
    if (length > MAX_TOKEN_BYTES) throw new UsageError(`kiln agent: the token file ${path} has more than ${MAX_TOKEN_BYTES} bytes`);
    const text = stripNewline(buffer.subarray(0, length).toString("utf8"));
    if (/[\r\n]/.test(text)) throw new UsageError(`kiln agent: the token file ${path} has more than one line; it must hold the token alone`);
    return checked(text, `the token file ${path}`);
  } finally {
    closeSync(fd);
  }
}

/** Without one trailing newline (echo and editors add it; it is never part of the secret). */
function stripNewline(text: string): string {
  return text.replace(/\r?\n$/, "");
}

function checked(token: string, source: string): string {
  if (token === "") throw new UsageError(`kiln agent: ${source} holds an empty token; a host must present a secret in HELLO`);
  return token;
}
