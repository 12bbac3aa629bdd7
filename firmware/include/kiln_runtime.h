/* The WebAssembly runtime interface: load, run and inspect one Kiln blob (implemented on WAMR in firmware/runtime/). */
#ifndef KILN_RUNTIME_H
#define KILN_RUNTIME_H

#include <stdint.h>
#include <stddef.h>

typedef struct kiln_instance kiln_instance;
/* Loads, validates and instantiates a blob (bytes stay owned by the caller and must outlive the instance).
   Returns NULL and writes a one-line reason into err on failure (not a wasm module, imports, memory above the limit,
   missing exports, WAMR errors, SIMD not supported…). */
kiln_instance *kiln_runtime_load(const uint8_t *blob, uint32_t len, uint32_t memory_limit, char *err, size_t err_len);
void kiln_runtime_unload(kiln_instance *inst);
/* Each returns 0 on success, or -1 with a one-line reason in err (a trap, an out-of-range pointer). */
int kiln_runtime_run(kiln_instance *inst, char *err, size_t err_len);
int kiln_runtime_run_layer(kiln_instance *inst, int32_t layer, char *err, size_t err_len);
int32_t kiln_runtime_layer_count(kiln_instance *inst);
/* The input/output regions inside the instance's linear memory, bounds-checked against its size; NULL if out of range. */
uint8_t *kiln_runtime_region(kiln_instance *inst, int output, uint32_t bytes);
/* The kiln.manifest custom section's bytes inside the blob, or NULL. */
const uint8_t *kiln_runtime_manifest(const uint8_t *blob, uint32_t len, uint32_t *manifest_len);

#endif
