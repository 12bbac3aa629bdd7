// Entry of the kernel library when built on its own (asconfig.json): every kernel, exported.
export * from "./float";
export * from "./int8";
export * from "./conv-i8";
export * from "./depthwise-i8";
export * from "./depthwise-f32";
export * from "./elementwise-f32";
export * from "./elementwise-i8";
export * from "./global-pool";
export * from "./layout";
export * from "./conv-small-i8";
export * from "./conv-wino-i8";
export * from "./conv-pw-i8";
export * from "./depthwise3x3-i8";
export * from "./conv-stem-i8";
export * from "./precision";
export * from "./exact-f64";
