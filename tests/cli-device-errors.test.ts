// Device errors say what happened (issue 16): a device never reached is "could not reach the device" (not a story about
// the model it keeps serving), an unknown host is not retried, and HELLO without a token says the device needs one.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { spawn } from "node:child_process";
import { createAgent, serveTcp } from "../firmware-host/serve.js";
import type { Agent } from "../firmware-host/agent.js";
import { closedPort, CLI, ROOT, storedModelId, sha256Hex, tinyBlob, type Blob } from "./device-helpers.js";
import { tempDir } from "./helpers.js";

interface Result { status: number | null; stdout: string; stderr: string; seconds: number }

/** The CLI with exactly the environment given (no KILN_TOKEN from the test's own), asynchronously: the agent lives here. */
function kiln(args: string[], env: Record<string, string> = {}): Promise<Result> {
  const started = performance.now();
  const base = Object.fromEntries(Object.entries(process.env).filter(([k]) => k !== "KILN_TOKEN")) as Record<string, string>;
  const child = spawn(process.execPath, [CLI, ...args], { cwd: ROOT, env: { ...base, KILN_DEBUG: "", NO_COLOR: "1", ...env } });
  let stdout = "", stderr = "";
  child.stdout.setEncoding("utf8").on("data", (d: string) => { stdout += d; });
  child.stderr.setEncoding("utf8").on("data", (d: string) => { stderr += d; });
  const timer = setTimeout(() => child.kill("SIGKILL"), 60_000);
  return new Promise((resolve) => child.on("close", (status) => {
    clearTimeout(timer);
    resolve({ status, stdout, stderr, seconds: (performance.now() - started) / 1000 });
  }));
}

const TOKEN = "cli-device-errors-token-7";
let blob: Blob, agent: Agent, store: string, close: () => Promise<void>, port: number;

beforeAll(async () => {
  blob = await tinyBlob(16);
  store = tempDir("kiln-cli-dev-");
  agent = await createAgent({ store, token: TOKEN, requireHello: true });
  const serving = await serveTcp(agent, "127.0.0.1", 0);
  port = serving.port;
  close = async () => { await serving.close(); await agent.close(); };
});

afterAll(async () => { await close?.(); });

describe("a device that cannot be reached", () => {
  it("refused: kiln deploy tries again, then says it could not reach the device and that nothing was uploaded", async () => {
    const dead = await closedPort();
    const r = await kiln(["deploy", blob.path, "--device", `tcp://127.0.0.1:${dead}`, "--sessions", "2"]);
    expect(r.status).toBe(1);
    const lines = r.stderr.trimEnd().split("\n");
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(new RegExp(`^could not reach the device tcp://127\\.0\\.0\\.1:${dead}: connection refused, .*; trying again \\(2 of 2\\)$`));
    expect(lines[1]).toMatch(new RegExp(`^kiln deploy: could not reach the device tcp://127\\.0\\.0\\.1:${dead}: connection refused, nothing listens at that address \\(connect ECONNREFUSED 127\\.0\\.0\\.1:${dead}\\); tried 2 times, nothing was uploaded$`));
    expect(r.stderr).not.toMatch(/keeps serving|acknowledged|device holds/);
  });

  it("refused: kiln bench says the same in one line", async () => {
    const dead = await closedPort();
    const r = await kiln(["bench", "--device", `tcp://127.0.0.1:${dead}`]);
    expect(r.status).toBe(1);
    expect(r.stderr.trimEnd().split("\n")).toEqual([expect.stringMatching(new RegExp(`^kiln bench: could not reach the device tcp://127\\.0\\.0\\.1:${dead}: connection refused`))]);
  });

  it("an unknown host: one line naming it, without four tries", async () => {
    const r = await kiln(["deploy", blob.path, "--device", "tcp://kiln-no-such-host.invalid:7000"]);
    expect(r.status).toBe(1);
    const last = r.stderr.trimEnd().split("\n").at(-1);
    // With a resolver: the name does not exist (not retried). Without one (an offline sandbox): it cannot be looked up.
    expect(last).toMatch(/^kiln deploy: could not reach the device tcp:\/\/kiln-no-such-host\.invalid:7000: (unknown host 'kiln-no-such-host\.invalid'|the host name 'kiln-no-such-host\.invalid' could not be looked up)/);
    if (/unknown host/.test(last ?? "")) {
      expect(r.stderr.trimEnd().split("\n")).toHaveLength(1);
      expect(r.seconds).toBeLessThan(3); // four sessions would wait 0.5 + 1 + 2 s between them
    }
  });
});

describe("a device that needs a token", () => {
  it("without one: 'this device needs a token', and how to give it", async () => {
    const before = storedModelId(store);
    for (const command of [["deploy", blob.path], ["bench"]]) {
      const r = await kiln([...command, "--device", `tcp://127.0.0.1:${port}`]);
      expect(r.status).toBe(1);
      expect(r.stderr.trimEnd().split("\n")).toEqual([`kiln ${command[0]}: this device needs a token: tcp://127.0.0.1:${port} refused HELLO without one (UNAUTHORIZED); `
        + "add ?token-env=NAME to the device URI, NAME being the environment variable that holds it, or set KILN_TOKEN"]);
    }
    expect(storedModelId(store)).toBe(before);
  });

  it("a wrong one is still called wrong; the right one (from KILN_TOKEN) deploys", async () => {
    const wrong = await kiln(["deploy", blob.path, "--device", `tcp://127.0.0.1:${port}`], { KILN_TOKEN: "not-it" });
    expect(wrong.stderr.trimEnd().split("\n")).toEqual(["kiln deploy: device refused HELLO: UNAUTHORIZED (wrong token)"]);
    const right = await kiln(["deploy", blob.path, "--device", `tcp://127.0.0.1:${port}`], { KILN_TOKEN: TOKEN });
    expect(right.status, right.stderr).toBe(0);
    expect(storedModelId(store)).toBe(sha256Hex(blob.bytes));
  });
});
