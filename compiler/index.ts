// The package entry `kiln/compiler`: compile a model file (TF.js or ONNX) into a blob from code, as `kiln compile` does.
export { compileFile, compileGraph, loadModel, DEFAULT_COMPILE_OPTIONS } from "./compile.js";
export type { CompileOptions, CompiledModel } from "./compile.js";
export type { BuiltBlob } from "./built-blob.js";
export { pixelCalibration } from "./quant/calibration-data.js";
export type { CalibrationSource, CalibrationImages, CalibrationRequest } from "./quant/calibration-data.js";
export type { CalibrationMethod } from "./quant/calibrate.js";
export type { Graph } from "./ir.js";
export type { Manifest } from "../runtime/manifest.js";
export { KilnError, UsageError } from "./errors.js";
