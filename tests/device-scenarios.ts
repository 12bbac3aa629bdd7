// Fault scenarios run over every real transport (serial through socat ptys, TCP on loopback) with the pacing relay.
import { expect, it } from "vitest";
import { DeviceClient } from "../firmware-host/client.js";
import { deploy, DeployError, type Connector, type DeployOptions, type DeployResult } from "../firmware-host/deploy.js";
import { runOnDevice } from "../firmware-host/device-ops.js";
import type { Relay } from "./device-relay.js";
import { waitFor } from "./device-relay.js";
import { hostRaw, samplePixels, storedModelId, type Blob } from "./device-helpers.js";

export interface LinkEnv {
  name: string;
  baud: number;
  relay: Relay;
  target: Connector;
  store: string;
  /** Two small (≈4–6 KB) and two medium (≈14 KB) blobs, all different. */
  blobs: { a: Blob; b: Blob; c: Blob; d: Blob };
  /** Cuts the line (serial: every byte lost; TCP: connections closed and refused) or restores it. */
  cut(on: boolean): void;
  killAgent(): Promise<void>;
  startAgent(): Promise<void>;
  agentLog(): string;
}

/** What the device runs now, checked three ways: HELLO, the store on disk, and a RUN equal to the host's run of the blob. */
export async function expectServes(env: LinkEnv, blob: Blob): Promise<void> {
  const client: DeviceClient = await env.target.connect();
  try {
    expect(client.device?.modelId, env.agentLog()).toBe(blob.id);
    expect(storedModelId(env.store)).toBe(blob.id);
    const pixels = samplePixels(blob.model.inputSize, 77);
    expect(Array.from((await runOnDevice(client, pixels)).raw)).toEqual(Array.from(hostRaw(blob, pixels)));
  } finally {
    await client.close();
  }
}

/** Deploys, and runs `during` once the device has acknowledged `share` of the blob (mid-upload: some bytes are still to come). */
async function deployWith(env: LinkEnv, blob: Blob, share: number, during: () => Promise<void>, options: DeployOptions = {}): Promise<DeployResult | Error> {
  let acked = 0, settled = false;
  const running = deploy(env.target, blob.bytes, { backoffMs: [200, 400], ...options, onProgress: (done) => { acked = done; } })
    .catch((e: Error) => e).finally(() => { settled = true; });
  await waitFor(() => acked >= share * blob.bytes.length || settled, 30_000, `${Math.round(share * 100)} % of the upload`);
  if (acked >= blob.bytes.length || settled) {
    await running;
    throw new Error(`the upload finished before the fault could be injected (acked ${acked} of ${blob.bytes.length})`);
  }
  await during();
  return running;
}

export function report(env: LinkEnv, what: string, r: DeployResult): void {
  const ideal = (r.size * 10) / env.baud;
  console.log(`[${env.name} @ ${env.baud} baud] ${what}: ${r.size} B in ${r.seconds.toFixed(2)} s (ideal ${ideal.toFixed(2)} s, `
    + `${Math.round((100 * ideal) / r.seconds)} % of line rate); ${r.wireBytesOut} B sent, ${r.failedAttempts} failed attempts, ${r.sessions} session(s); `
    + `link: ${JSON.stringify(r.link)}`);
}

export function faultScenarios(getEnv: () => LinkEnv): void {
  it("clean paced link: the deploy takes close to the ideal time for the line rate", async () => {
    const env = getEnv();
    const r = await deploy(env.target, env.blobs.a.bytes);
    report(env, "clean deploy", r);
    const ideal = (r.size * 10) / env.baud;
    expect(r.seconds).toBeGreaterThan(ideal * 0.95); // the relay really paces
    expect(r.seconds).toBeLessThan(ideal * 1.5 + 0.5);
    await expectServes(env, env.blobs.a);
  });

  it("1 % of bytes corrupted in both directions: the deploy completes with the right content", async () => {
    const env = getEnv();
    env.relay.faults = { corrupt: 0.01 };
    const before = env.relay.stats.corrupted;
    try {
      const r = await deploy(env.target, env.blobs.b.bytes);
      report(env, "1 % corruption", r);
      expect(env.relay.stats.corrupted - before).toBeGreaterThan(10);
      expect(r.modelId).toBe(env.blobs.b.id);
    } finally {
      env.relay.faults = {};
    }
    await expectServes(env, env.blobs.b);
  });

  it("1 % of bytes dropped: the deploy completes with the right content", async () => {
    const env = getEnv();
    env.relay.faults = { drop: 0.01 };
    try {
      const r = await deploy(env.target, env.blobs.a.bytes);
      report(env, "1 % dropped bytes", r);
      expect(r.modelId).toBe(env.blobs.a.id);
    } finally {
      env.relay.faults = {};
    }
    await expectServes(env, env.blobs.a);
  });

  it("a disconnect mid-upload for 1.5 s: the deploy resumes and completes", async () => {
    const env = getEnv();
    const r = await deployWith(env, env.blobs.c, 0.25, async () => {
      env.cut(true);
      await new Promise((res) => setTimeout(res, 1500));
      env.cut(false);
    }, { maxFailures: 3, backoffMs: [300, 600, 1200] });
    if (r instanceof Error) throw r;
    report(env, "disconnect for 1.5 s", r);
    expect(r.modelId).toBe(env.blobs.c.id);
    await expectServes(env, env.blobs.c);
  });

  it("the link lost for good mid-upload: a clear error, the old model serves, and the next deploy resumes", async () => {
    const env = getEnv();
    const r = await deployWith(env, env.blobs.d, 0.25, async () => env.cut(true), { sessions: 2, maxFailures: 3, backoffMs: [200] });
    env.cut(false);
    expect(r).toBeInstanceOf(DeployError);
    const acked = (r as DeployError).acked;
    expect(acked).toBeGreaterThan(0);
    expect((r as Error).message).toMatch(new RegExp(`failed after 2 sessions: .*; the device had acknowledged ${acked} of ${env.blobs.d.bytes.length} bytes and keeps serving its previous model`));
    await expectServes(env, env.blobs.c);
    const again = await deploy(env.target, env.blobs.d.bytes);
    expect(again.resumedFrom).toBeGreaterThanOrEqual(acked); // the device may hold a chunk whose ack was lost
    expect(again.modelId).toBe(env.blobs.d.id);
    await expectServes(env, env.blobs.d);
  });

  it("the agent killed mid-upload: a clear error; restarted, it serves the previous model and the upload resumes", async () => {
    const env = getEnv();
    const r = await deployWith(env, env.blobs.c, 0.25, () => env.killAgent(), { sessions: 2, maxFailures: 3, backoffMs: [200] });
    expect(r).toBeInstanceOf(DeployError);
    expect((r as Error).message).toMatch(/failed after 2 sessions: .*keeps serving its previous model/);
    await env.startAgent();
    await expectServes(env, env.blobs.d);
    const again = await deploy(env.target, env.blobs.c.bytes);
    expect(again.resumedFrom).toBeGreaterThan(0);
    await expectServes(env, env.blobs.c);
  });
}
