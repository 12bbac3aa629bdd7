/* A fake runtime: accepts any wasm with a kiln.manifest section, and "runs" a fixed hash of its input region so that
   the host can predict every output byte (tests/firmware-protocol.test.ts computes the same function). */
#include "kiln_runtime.h"
#include "manifest.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define AREA 32768u

struct kiln_instance {
  uint8_t memory[2 * AREA];
  int32_t layers;
};

const uint8_t *kiln_runtime_manifest(const uint8_t *blob, uint32_t len, uint32_t *manifest_len) {
  wasm_layout l;
  if (wasm_read_layout(blob, len, &l) || l.manifests != 1) return NULL;
  *manifest_len = l.content_end - l.content_start;
  return blob + l.content_start;
}

kiln_instance *kiln_runtime_load(const uint8_t *blob, uint32_t len, uint32_t memory_limit, char *err, size_t err_len) {
  uint32_t n;
  const uint8_t *m = kiln_runtime_manifest(blob, len, &n);
  if (!m) {
    snprintf(err, err_len, "fake runtime: not a wasm module with one kiln.manifest section");
    return NULL;
  }
  if (memory_limit < 2 * AREA) {
    snprintf(err, err_len, "fake runtime: needs %u bytes of memory", 2 * AREA);
    return NULL;
  }
  manifest_info info;
  char why[64];
  kiln_instance *inst = calloc(1, sizeof *inst);
  if (!inst) return NULL;
  inst->layers = manifest_parse(m, n, &info, why, sizeof why) ? 0 : (int32_t)info.layers;
  return inst;
}

void kiln_runtime_unload(kiln_instance *inst) { free(inst); }

/* FNV-1a over the whole input area; output byte j = byte (j mod 4) of the hash, xor 7j. */
int kiln_runtime_run(kiln_instance *inst, char *err, size_t err_len) {
  /* An input starting with "STOP" plays a blob stopped by the run limit (the real runtime's message). */
  if (memcmp(inst->memory, "STOP", 4) == 0) {
    snprintf(err, err_len, "stopped: the call ran longer than the run limit of 60000 ms");
    return -1;
  }
  uint32_t h = 2166136261u;
  for (uint32_t i = 0; i < AREA; i++) h = (h ^ inst->memory[i]) * 16777619u;
  for (uint32_t j = 0; j < AREA; j++) inst->memory[AREA + j] = (uint8_t)((h >> (8 * (j & 3))) ^ (j * 7));
  return 0;
}

int kiln_runtime_run_layer(kiln_instance *inst, int32_t layer, char *err, size_t err_len) {
  if (layer < 0 || layer >= inst->layers) {
    snprintf(err, err_len, "fake runtime: no layer %d", (int)layer);
    return -1;
  }
  return 0;
}

int32_t kiln_runtime_layer_count(kiln_instance *inst) { return inst->layers; }

uint8_t *kiln_runtime_region(kiln_instance *inst, int output, uint32_t bytes) {
  return bytes <= AREA ? inst->memory + (output ? AREA : 0) : NULL;
}
