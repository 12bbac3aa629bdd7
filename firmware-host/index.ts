// The package entry `kiln/devices`: the host side of the device protocol: open a device by URI, deploy, run, profile, eval.
export { parseDeviceUri, describeDeviceUri, DeviceUriError, DEFAULT_TOKEN_ENV } from "./device-uri.js";
export type { DeviceUri } from "./device-uri.js";
export { DeviceTarget } from "./target.js";
export { DeviceClient } from "./client.js";
export type { ClientOptions, ClientStats } from "./client.js";
export { deploy, DeployError } from "./deploy.js";
export type { DeployOptions, DeployResult, Connector } from "./deploy.js";
export { deviceManifest, runOnDevice, profileOnDevice, evalOnDevice, resetDevice, fetchBlob } from "./device-ops.js";
export type { DeviceRun, DeviceEval } from "./device-ops.js";
export { UploadError } from "./upload.js";
export { DeviceError, LinkError, ProtocolError } from "./errors.js";
export type { HelloInfo } from "./messages.js";
