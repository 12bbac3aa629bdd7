// The package entry `kiln/node`: Node-only helpers around the runtime core: blobs on worker threads, files, images, idx.
export { WorkerModel, RunTimeout, DEFAULT_TIME_LIMIT_MS } from "../runtime/worker-model.js";
export type { WorkerModelOptions, CallLimit } from "../runtime/worker-model.js";
export { readBlobFile } from "./blob-file.js";
export { loadImages, decodeImage, toModelInput, encodeGrayPng } from "./images.js";
export type { ImageBatch, DecodedImage } from "./images.js";
export { readIdx, parseIdx, readLabelledImages, mnistPaths } from "./idx.js";
export type { IdxArray, LabelledImages } from "./idx.js";
export { InputError, INPUT_LIMITS } from "./input-file.js";
export { calibrationImages } from "../bin/calibration.js";
export { KilnError } from "../compiler/errors.js";
