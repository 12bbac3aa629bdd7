// The host against a lying device (lengths, manifest, answers that do not fit the request) and tokens kept out of messages.
import { beforeAll, describe, expect, it } from "vitest";
import type { Manifest } from "../runtime/manifest.js";
import {
  MAX_MANIFEST_BYTES, deviceManifest, evalOnDevice, fetchBlob, profileOnDevice, runOnDevice,
} from "../firmware-host/device-ops.js";
import { ProtocolError } from "../firmware-host/errors.js";
import { serveTcp, createAgent } from "../firmware-host/serve.js";
import type { Reply, Request } from "../firmware-host/messages.js";
import { closedPort, kiln, tinyBlob, type Blob } from "./device-helpers.js";
import { tempDir } from "./helpers.js";
import { fakeDevice } from "./raw-peer.js";

let blob: Blob;
beforeAll(async () => { blob = await tinyBlob(5); });

const json = (value: unknown): Uint8Array => new TextEncoder().encode(JSON.stringify(value));
const GIB2 = 2 ** 31;

/** A device that announces `total` bytes for every long reply and sends a first page of `page`. */
function announcing(total: number, page = new Uint8Array(16)): (req: Request) => Reply | null {
  return (req) => {
    if (req.kind === "info") return { kind: "infoOk", total, data: page };
    if (req.kind === "profile") return { kind: "profileOk", total, data: page };
    if (req.kind === "more") return { kind: "moreOk", total, offset: req.offset, data: new Uint8Array(60_000) };
    return null;
  };
}

describe("lengths a device announces are bounded by what the request can return", () => {
  it("a 2 GiB manifest, profile or blob is refused before anything is allocated or read", async () => {
    const { client, requests } = await fakeDevice(announcing(GIB2));
    await expect(deviceManifest(client)).rejects.toThrow(new ProtocolError(`INFO (manifest): the device announces ${GIB2} bytes; this answer has at most ${MAX_MANIFEST_BYTES}`));
    await expect(profileOnDevice(client, 10, 1)).rejects.toThrow(/PROFILE: the device announces 2147483648 bytes; this answer has at most 4194304/);
    // HELLO said maxBlob 1 MiB and a 5000-byte model: a larger blob is not read.
    await expect(fetchBlob(client)).rejects.toThrow(/INFO \(blob\): the device announces 2147483648 bytes; this answer has at most 5000/);
    expect(requests.some((r) => r.kind === "more")).toBe(false);
    const larger = await fakeDevice(announcing(6000));
    await expect(fetchBlob(larger.client)).rejects.toThrow(/announces 6000 bytes; this answer has at most 5000/);
  });

  it("a manifest of the wrong shape is a ProtocolError naming the field; a good one is accepted", async () => {
    const good = blob.model.info;
    const bad: [string, unknown][] = [
      ["output.shape", { ...good, output: { ...good.output, shape: [1, 1e9] } }],
      ["input.shape", { ...good, input: { ...good.input, shape: "28x28" } }],
      ["output.shape", { ...good, output: { ...good.output, shape: [1, -3] } }],
      ["layers", { ...good, layers: 5 }],
    ];
    for (const [field, manifest] of bad) {
      const bytes = json(manifest);
      const { client } = await fakeDevice(() => ({ kind: "infoOk", total: bytes.length, data: bytes }));
      const error = await deviceManifest(client).then(() => null, (e: unknown) => e);
      expect(error).toBeInstanceOf(ProtocolError);
      expect((error as Error).message).toContain(field);
    }
    const bytes = json(good);
    const { client } = await fakeDevice(() => ({ kind: "infoOk", total: bytes.length, data: bytes }));
    expect(await deviceManifest(client)).toEqual(good);
  });

  it("RUN and EVAL answers must have exactly the outputs and counts asked for", async () => {
    const m: Manifest = blob.model.info;
    const classes = m.output.shape.reduce((a, b) => a * b, 1), outBytes = classes * 4; // a float blob
    const manifest = json(m);
    let runOutput = new Uint8Array(outBytes), predictions = new Uint16Array([0, 1]), correct = 1;
    const { client } = await fakeDevice((req) => {
      if (req.kind === "info") return { kind: "infoOk", total: manifest.length, data: manifest };
      if (req.kind === "run") return { kind: "runOk", deviceUs: 1, index: 0, dtype: "float32", output: runOutput };
      if (req.kind === "eval") return { kind: "evalOk", count: predictions.length, correct, deviceUs: 1, predictions, outputs: new Uint8Array(0) };
      return null;
    });
    await deviceManifest(client);
    const pixels = new Uint8Array(64);
    expect((await runOnDevice(client, pixels)).raw).toHaveLength(classes);
    runOutput = new Uint8Array(60_000);
    await expect(runOnDevice(client, pixels)).rejects.toThrow(/RUN: the device answered 60000 float32 bytes .*its model outputs 12 float32 bytes/);
    const images = new Uint8Array(2 * 64), labels = new Uint8Array([0, 1]);
    expect((await evalOnDevice(client, m, images, labels)).correct).toBe(1);
    predictions = new Uint16Array([0, 999]);
    await expect(evalOnDevice(client, m, images, labels)).rejects.toThrow(/EVAL: asked for 2 results of 3 classes/);
    predictions = new Uint16Array([0, 1]);
    correct = 7;
    await expect(evalOnDevice(client, m, images, labels)).rejects.toThrow(ProtocolError);
  });
});

describe("tokens never reach the terminal", () => {
  const SECRET = "SECRET-do-not-print-42";

  it("bad, unreachable and refusing tcp:// URIs: one-line errors without the token", async () => {
    const port = await closedPort();
    const agent = await createAgent({ store: tempDir("kiln-trust-"), token: "the-real-one", requireHello: true });
    const serving = await serveTcp(agent, "127.0.0.1", 0);
    try {
      const uris = [
        `tcp://127.0.0.1:${port}?token=${SECRET}`, // nothing listens
        `tcp://127.0.0.1:${serving.port}?token=${SECRET}`, // wrong token
        `tcp://127.0.0.1?token=${SECRET}`, // no port
        `tcp://127.0.0.1:${port}?token=${SECRET}&bogus=1`,
        `tcp://127.0.0.1:${port}/path?token=${SECRET}`,
        `tcp://127.0.0.1:99999?token=${SECRET}`,
        `tcp://127.0.0.1:${port}?token=${SECRET}&frame=x`,
        `tcp://127.0.0.1:${port}?tok%65n=${SECRET}&frame=0`,
        `tcp://${SECRET}@127.0.0.1:${port}`,
        `serial:?token=${SECRET}`,
        `local?token=${SECRET}`,
        `nonsense://host?token=${SECRET}`,
      ];
      for (const uri of uris) {
        for (const args of [["deploy", blob.path, "--device", uri], ["bench", "--device", uri]]) {
          const r = await kiln(args, 30_000);
          expect(r.status, `${args.join(" ")}: ${r.stderr}`).not.toBe(0);
          expect(r.stdout + r.stderr, args.join(" ")).not.toContain(SECRET);
          // One error line (kiln deploy reports its reconnects before it).
          expect(r.stderr.trim().split("\n").at(-1)).toMatch(/^kiln (deploy|bench): /);
          expect(r.stderr).not.toMatch(/^\s+at /m);
        }
      }
    } finally {
      await serving.close();
      await agent.close();
    }
  });

  it("a device URI given where a blob file was expected is not echoed with its token", async () => {
    for (const args of [["bench", `tcp://127.0.0.1:1?token=${SECRET}`, "--device", "local"], ["deploy", `tcp://127.0.0.1:1?token=${SECRET}`, "--device", "local"]]) {
      const r = await kiln(args, 30_000);
      expect(r.status).not.toBe(0);
      expect(r.stdout + r.stderr).not.toContain(SECRET);
      expect(r.stderr).toContain("token=***");
    }
  });
});
