// What a build hands back and takes, in a file of its own so the package's .d.ts for it never reach AssemblyScript's types.
import { addCustomSection } from "./wasm-sections.js";
import { sealManifest } from "../runtime/content-hash.js";

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

/**
 * `module` with `manifest` added as its last section, sealed with a hash of everything before it
 * (runtime/content-hash.ts): the blob, the manifest's contentHash, and the section's size in bytes.
 */
export async function sealBlob(module: Uint8Array, manifest: Record<string, unknown>): Promise<{ wasm: Uint8Array<ArrayBuffer>; contentHash: string; manifestSection: number }> {
  const sealed = await sealManifest(module, manifest);
  const wasm = addCustomSection(module, "kiln.manifest", sealed);
  const contentHash = (JSON.parse(new TextDecoder().decode(sealed)) as { contentHash: string }).contentHash;
  return { wasm, contentHash, manifestSection: wasm.length - module.length };
}
