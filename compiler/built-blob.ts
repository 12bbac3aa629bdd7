// What a build hands back and takes, in a file of its own so the package's .d.ts for it never reach AssemblyScript's types.

export interface BlobInput {
  source: string;
  weights: Uint8Array;
  weightsBase: number;
  /** First byte the AssemblyScript compiler may use for its own static data. */
  memoryBase: number;
  simd: boolean;
  manifest: Record<string, unknown>;
}

export interface BuiltBlob {
  wasm: Uint8Array<ArrayBuffer>;
  /** The manifest's contentHash ("sha256:…"), over the whole file. */
  contentHash: string;
  sizes: { weights: number; code: number; manifest: number; total: number };
}
