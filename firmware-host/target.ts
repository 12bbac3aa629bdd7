// Opening a device from a URI: a serial port, a TCP connection, or an in-process agent (`local`).
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Agent } from "./agent.js";
import { DeviceClient } from "./client.js";
import { describeDeviceUri, deviceToken, type DeviceUri } from "./device-uri.js";
import { TokenNeededError, UnreachableError } from "./errors.js";
import type { Link } from "./link.js";
import { localPair } from "./local.js";
import { SerialLink } from "./serial.js";
import { createAgent } from "./serve.js";
import { TcpLink } from "./tcp.js";

/** A device the host can connect to (again and again, for resuming), and what to clean up afterwards. */
export class DeviceTarget {
  private constructor(readonly uri: DeviceUri, private readonly agent: Agent | null, private readonly tempStore: string | null) {}

  static async open(uri: DeviceUri): Promise<DeviceTarget> {
    if (uri.kind !== "local") return new DeviceTarget(uri, null, null);
    const token = deviceToken(uri);
    const temp = uri.store ? null : mkdtempSync(join(tmpdir(), "kiln-local-device-"));
    const agent = await createAgent({ store: uri.store ?? (temp as string), name: "local", requireHello: true, token });
    return new DeviceTarget(uri, agent, temp);
  }

  get description(): string { return describeDeviceUri(this.uri); }

  /** Opens the link and says HELLO; the client knows the device afterwards (client.device). */
  async connect(clientName = "kiln"): Promise<DeviceClient> {
    // Read when connecting: a token-env variable that is not set fails this device alone (a fleet goes on).
    const token = deviceToken(this.uri);
    let link: Link;
    try {
      link = await this.openLink();
    } catch (e) {
      throw new UnreachableError(this.description, e as Error);
    }
    const client = new DeviceClient(link, { maxFrame: this.uri.frame, timeoutMs: this.uri.timeoutMs, token, client: clientName });
    try {
      await client.hello();
    } catch (e) {
      await client.close();
      // Refused without a token: say what is missing, not that a token was wrong.
      if (!token && TokenNeededError.matches(e)) throw new TokenNeededError(this.description, e.code, e.detail, "", this.uri.kind === "tcp");
      throw e;
    }
    return client;
  }

  private async openLink(): Promise<Link> {
    switch (this.uri.kind) {
      case "serial": return SerialLink.open(this.uri.path, { baudRate: this.uri.baud });
      case "tcp": return TcpLink.connect(this.uri.host, this.uri.port);
      case "local": {
        const [host, device] = localPair("local");
        (this.agent as Agent).serve(device);
        return host;
      }
    }
  }

  /** Stops the in-process agent and deletes its temporary store. */
  async dispose(): Promise<void> {
    await this.agent?.close();
    if (this.tempStore) rmSync(this.tempStore, { recursive: true, force: true });
  }
}
