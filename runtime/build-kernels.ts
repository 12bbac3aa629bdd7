// Builds the AssemblyScript kernel library on its own, in its simd and scalar flavours (asconfig.json).
import asc from "assemblyscript/asc";
import { packageRoot } from "./package-root.js";

async function main(): Promise<void> {
  process.chdir(packageRoot());
  for (const target of ["simd", "scalar"]) {
    let errors = "";
    const { error } = await asc.main(["--config", "asconfig.json", "--target", target], {
      stderr: { write: (s: string | Uint8Array) => { errors += String(s); return true; } } as never,
    });
    if (error) {
      console.error(`kernel library (${target}) failed to build:\n${errors}`);
      process.exit(1);
    }
  }
  console.log("kiln: kernel library built (dist/kernels/kiln-kernels.{simd,scalar}.wasm)");
}

main().catch((e) => { console.error(e); process.exit(1); });
