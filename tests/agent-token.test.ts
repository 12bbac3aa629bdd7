// The agent's token off the command line: --token-file (owner-only, one line) and KILN_TOKEN; --token warns; the token
// never reaches the agent's log, whatever the hosts send.
import { chmodSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { agentToken, MAX_TOKEN_BYTES, readTokenFile, TOKEN_ENV } from "../bin/agent-token.js";
import { UsageError } from "../compiler/errors.js";
import { DeviceClient } from "../firmware-host/client.js";
import { DeviceError } from "../firmware-host/errors.js";
import { ErrorCode } from "../firmware-host/messages.js";
import { TcpLink } from "../firmware-host/tcp.js";
import { sha256 } from "../firmware-host/upload.js";
import { kiln, startAgent } from "./device-helpers.js";
import { tempDir } from "./helpers.js";

const SECRET = "tok-5b2e9c41d7";
let dir = "";

beforeAll(() => { dir = tempDir("kiln-token-"); });

/** A token file with `text` and `mode`. */
function tokenFile(name: string, text: string, mode = 0o600): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  chmodSync(path, mode);
  return path;
}

const noWarn = (line: string): void => { throw new Error(`unexpected warning: ${line}`); };

describe("agentToken and readTokenFile", () => {
  it("reads an owner-only file and strips one trailing newline (\\n or \\r\\n)", () => {
    expect(readTokenFile(tokenFile("a", `${SECRET}\n`))).toBe(SECRET);
    expect(readTokenFile(tokenFile("b", `${SECRET}\r\n`))).toBe(SECRET);
    expect(readTokenFile(tokenFile("c", SECRET))).toBe(SECRET);
    // A group the service shares (root:kiln 0640) is the owner's choice; only "other" users are refused.
    expect(readTokenFile(tokenFile("d", SECRET, 0o640))).toBe(SECRET);
  });

  it.each([0o644, 0o604, 0o602, 0o601, 0o666])("refuses a file open to other users (mode %o), naming it and the chmod fix", (mode) => {
    const path = tokenFile(`open-${mode.toString(8)}`, SECRET, mode);
    const mode4 = mode.toString(8).padStart(4, "0");
    expect(() => readTokenFile(path)).toThrow(new UsageError(
      `kiln agent: the token file ${path} is open to other users (mode ${mode4}): run chmod o-rwx ${path} (or chmod 600)`));
  });

  it("refuses an empty token, a second line, a missing file, a folder and a file too large to be a token", () => {
    expect(() => readTokenFile(tokenFile("empty", ""))).toThrow(/the token file .*empty holds an empty token/);
    expect(() => readTokenFile(tokenFile("newline", "\n"))).toThrow(/holds an empty token/);
    expect(() => readTokenFile(tokenFile("two", `${SECRET}\nsecond\n`))).toThrow(/has more than one line/);
    expect(() => readTokenFile(join(dir, "absent"))).toThrow(`kiln agent: cannot read the token file ${join(dir, "absent")}: no such file`);
    const folder = join(dir, "folder");
    mkdirSync(folder, { mode: 0o700 });
    expect(() => readTokenFile(folder)).toThrow(/is not a regular file|it is a folder/);
    expect(() => readTokenFile(tokenFile("big", "x".repeat(MAX_TOKEN_BYTES + 1)))).toThrow(/a token is at most 4096/);
  });

  it("takes KILN_TOKEN (one trailing newline stripped) when no flag is given, and refuses it empty", () => {
    expect(agentToken({ env: { [TOKEN_ENV]: SECRET }, warn: noWarn })).toBe(SECRET);
    expect(agentToken({ env: { [TOKEN_ENV]: `${SECRET}\n` }, warn: noWarn })).toBe(SECRET);
    expect(agentToken({ env: {}, warn: noWarn })).toBeUndefined();
    expect(() => agentToken({ env: { [TOKEN_ENV]: "" }, warn: noWarn })).toThrow(/the KILN_TOKEN environment variable holds an empty token/);
  });

  it("a flag wins over KILN_TOKEN; --token and --token-file together are a usage error", () => {
    const file = tokenFile("flag", "from-file\n");
    expect(agentToken({ tokenFile: file, env: { [TOKEN_ENV]: SECRET }, warn: noWarn })).toBe("from-file");
    expect(() => agentToken({ token: SECRET, tokenFile: file, warn: noWarn })).toThrow(new UsageError("kiln agent: give --token-file or --token, not both"));
  });

  it("--token works but warns that other users see it, without repeating it", () => {
    const warnings: string[] = [];
    expect(agentToken({ token: SECRET, env: {}, warn: (l) => warnings.push(l) })).toBe(SECRET);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/--token is visible to every user of this machine \(ps\); use --token-file <path> or the KILN_TOKEN environment variable/);
    expect(warnings[0]).not.toContain(SECRET);
    expect(() => agentToken({ token: "", warn: () => {} })).toThrow(/--token holds an empty token/);
  });
});

describe("kiln agent with a token file or KILN_TOKEN", () => {
  afterEach(() => { delete process.env[TOKEN_ENV]; });

  it("refuses a world-readable token file with one line naming it (exit 2), before serving", async () => {
    const path = tokenFile("world", `${SECRET}\n`, 0o644);
    const r = await kiln(["agent", "--tcp", "127.0.0.1:0", "--token-file", path, "--store", join(dir, "never")]);
    expect(r.status).toBe(2);
    expect(r.stderr.trim().split("\n")).toEqual([`kiln agent: the token file ${path} is open to other users (mode 0644): run chmod o-rwx ${path} (or chmod 600)`]);
    expect(r.stdout).toBe("");
  });

  it("serves with the token from KILN_TOKEN: a host with it gets in, one without it does not", async () => {
    process.env[TOKEN_ENV] = SECRET;
    const agent = await startAgent(["--tcp", "127.0.0.1:0", "--store", join(dir, "env-store")]);
    delete process.env[TOKEN_ENV];
    try {
      const good = new DeviceClient(await TcpLink.connect("127.0.0.1", agent.port), { token: SECRET });
      await good.hello();
      await good.close();
      const bad = new DeviceClient(await TcpLink.connect("127.0.0.1", agent.port), { token: "" });
      await expect(bad.hello()).rejects.toThrow(/UNAUTHORIZED/);
      await bad.close();
    } finally {
      await agent.stop();
    }
    expect(agent.stderr()).not.toMatch(/warning/);
  });

  it("never logs the token: across wrong HELLOs (one with the token as a prefix), a good one, refused requests and a failed upload", async () => {
    const path = tokenFile("served", `${SECRET}\n`);
    const agent = await startAgent(["--tcp", "127.0.0.1:0", "--token-file", path, "--store", join(dir, "log-store"), "--auth-timeout", "1"]);
    const connect = async (token: string): Promise<DeviceClient> =>
      new DeviceClient(await TcpLink.connect("127.0.0.1", agent.port), { token, client: `client-of-${token.length}`, timeoutMs: 2000 });
    try {
      for (const wrong of [`${SECRET}x`, SECRET.slice(0, -1), `"${SECRET}"`, SECRET.toUpperCase()]) {
        const client = await connect(wrong);
        await expect(client.hello()).rejects.toThrow(/UNAUTHORIZED/);
        await client.close();
      }
      const client = await connect(SECRET);
      await client.hello();
      // Refused requests: RUN without a model, an upload whose bytes do not match its hash.
      await expect(client.request({ kind: "run", float: false, input: new Uint8Array(4) })).rejects.toBeInstanceOf(DeviceError);
      const bytes = new TextEncoder().encode(SECRET.repeat(8));
      await client.request({ kind: "loadBegin", size: bytes.length, sha256: sha256(new Uint8Array(bytes.length)), crc32: 0, name: "bad" });
      await client.request({ kind: "loadChunk", offset: 0, data: bytes });
      const commit = await client.request({ kind: "loadCommit", sha256: sha256(new Uint8Array(bytes.length)) }).then(() => null, (e: unknown) => e);
      expect(commit).toBeInstanceOf(DeviceError);
      expect([ErrorCode.HASH_MISMATCH, ErrorCode.INVALID_BLOB]).toContain((commit as DeviceError).code);
      await client.close();
      // A connection that never says HELLO is closed after the auth timeout (logged).
      const silent = await TcpLink.connect("127.0.0.1", agent.port);
      await new Promise((r) => setTimeout(r, 1500));
      await silent.close();
    } finally {
      await agent.stop();
    }
    const log = agent.stdout() + agent.stderr();
    expect(log).toMatch(/wrong token: rejected/);
    expect(log.split("\n").filter(Boolean).length).toBeGreaterThanOrEqual(6);
    expect(log).not.toContain(SECRET);
    expect(log.toLowerCase()).not.toContain(SECRET.toLowerCase().slice(4));
  });
});
