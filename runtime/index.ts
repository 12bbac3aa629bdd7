// The package's main entry, `kiln`: the runtime core that loads, checks, runs and profiles a blob (no Node-only imports).
export { Model, inspectBlob, DEFAULT_MEMORY_LIMIT, BlobError, BlobMemoryError } from "./model.js";
export type { Prediction, LoadOptions, InspectedBlob, BlobExports } from "./model.js";
export { MANIFEST_VERSION } from "./manifest.js";
export type { Manifest, TensorInfo, LayerInfo } from "./manifest.js";
export { validateManifest } from "./manifest-check.js";
export { profileModel } from "./profile.js";
export type { ProfileOptions, ProfileResult, LayerProfile, TimingStats } from "./profile.js";
