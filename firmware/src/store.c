/* Uploads fill the inactive slot; COMMIT verifies everything before the active slot changes (docs/protocol.md). */

/* Size, SHA-256, CRC, layout, manifest and instantiation are all checked before the swap, so a failed, interrupted
   or corrupt upload never replaces the model being served. */
#include "store.h"
#include "board.h"
#include "crc32.h"
#include "messages.h"
#include "sha256.h"
#include <stdio.h>
#include <string.h>

#define WASM_PAGE 65536u

static store_result ok(void) {
  store_result r;
  r.code = 0;
  r.detail = 0;
  r.message[0] = 0;
  return r;
}

static store_result fail(uint8_t code, uint32_t detail, const char *message) {
  store_result r;
  r.code = code;
  r.detail = detail;
  snprintf(r.message, sizeof r.message, "%s", message);
  return r;
}

static int inactive_slot(const model_store *s) { return s->active.slot == 0 ? 1 : 0; }

void store_init(model_store *s) {
  memset(s, 0, sizeof *s);
  s->active.slot = -1;
}

void store_discard_pending(model_store *s) {
  memset(&s->pending, 0, sizeof s->pending);
}

store_result store_begin(model_store *s, uint32_t size, const uint8_t sha[32], uint32_t crc, uint32_t *offset) {
  uint32_t max = board_slot_size();
  if (size > max) {
    store_result r = fail(ERR_TOO_LARGE, max, "");
    snprintf(r.message, sizeof r.message, "blob of %lu bytes; this device takes at most %lu", (unsigned long)size, (unsigned long)max);
    return r;
  }
  if (size == 0) return fail(ERR_BAD_REQUEST, 0, "empty blob");
  pending_upload *p = &s->pending;
  if (p->open && p->size == size && memcmp(p->sha, sha, 32) == 0) {
    *offset = p->received; /* the same blob again (a new session after a broken link): resume */
    return ok();
  }
  store_discard_pending(s);
  p->open = true;
  p->size = size;
  memcpy(p->sha, sha, 32);
  p->crc = crc;
  p->received = 0;
  *offset = 0;
  return ok();
}

store_result store_write(model_store *s, uint32_t offset, const uint8_t *data, uint32_t n, uint32_t *next, bool *beyond) {
  pending_upload *p = &s->pending;
  *beyond = false;
  if (!p->open) return fail(ERR_NO_UPLOAD, 0, "LOAD_CHUNK without LOAD_BEGIN");
  if ((uint64_t)offset + n > p->size) {
    store_result r = fail(ERR_BAD_REQUEST, 0, "");
    snprintf(r.message, sizeof r.message, "chunk %lu+%lu runs past the blob's %lu bytes", (unsigned long)offset, (unsigned long)n, (unsigned long)p->size);
    return r;
  }
  if (offset > p->received) {
    *beyond = true;
    *next = p->received;
    return ok();
  }
  /* offset ≤ received ≤ size and offset + n ≤ size: the new part lies inside the slot. */
  uint32_t skip = p->received - offset;
  if (n > skip) {
    memcpy(board_slot(inactive_slot(s)) + p->received, data + skip, n - skip);
    p->received += n - skip;
  }
  *next = p->received;
  return ok();
}

/* Reads the manifest of a blob in a slot; NULL or the reason it cannot be served here. */
static const char *inspect(const uint8_t *blob, uint32_t size, manifest_info *info, const uint8_t **manifest, uint32_t *manifest_len,
                           uint8_t *code, uint32_t *detail, char *why, size_t why_len) {
  wasm_layout layout;
  const char *e = wasm_read_layout(blob, size, &layout);
  *code = ERR_INVALID_BLOB;
  *detail = 0;
  if (e) return e;
  *code = ERR_BAD_MANIFEST;
  if (layout.manifests == 0) return "not a Kiln blob: no kiln.manifest custom section";
  if (layout.manifests > 1) return "the blob has more than one kiln.manifest section; a Kiln blob has one";
  if (!layout.manifest_last) return "blob is corrupt: sections follow the kiln.manifest section";
  if (layout.imports > 0) return "the blob has imports; Kiln blobs import nothing";
  if (layout.memories != 1) return "a Kiln blob defines exactly one memory";
  *code = ERR_OUT_OF_MEMORY;
  if (!layout.has_max) {
    *detail = 0xffffffffu;
    return "the blob's memory declares no maximum size; Kiln blobs declare one (compile it again)";
  }
  uint64_t bytes = (uint64_t)layout.max_pages * WASM_PAGE;
  if (bytes > board_memory_limit()) {
    *detail = bytes > 0xffffffffu ? 0xffffffffu : (uint32_t)bytes;
    snprintf(why, why_len, "the blob's memory may grow to %llu bytes; the limit here is %lu", (unsigned long long)bytes, (unsigned long)board_memory_limit());
    return why;
  }
  *code = ERR_BAD_MANIFEST;
  if (!manifest_content_hash_ok(blob, &layout)) return "blob is corrupt or made by an older Kiln: kiln.manifest content hash missing or wrong";
  *manifest = blob + layout.content_start;
  *manifest_len = layout.content_end - layout.content_start;
  e = manifest_parse(*manifest, *manifest_len, info, why, why_len);
  if (e) return e;
  if (info->simd) return "the blob is compiled for SIMD; this device has no SIMD (compile it with --target scalar)";
  return NULL;
}

/* Instantiates and checks the ABI against the manifest: layer count and both regions inside memory. */
static kiln_instance *instantiate(const uint8_t *blob, uint32_t size, const manifest_info *info, char *why, size_t why_len, uint8_t *code) {
  *code = ERR_INVALID_BLOB;
  kiln_instance *inst = kiln_runtime_load(blob, size, board_memory_limit(), why, why_len);
  if (!inst) return NULL;
  *code = ERR_BAD_MANIFEST;
  int32_t layers = kiln_runtime_layer_count(inst);
  uint32_t in_bytes = info->input.elements * (info->input.dtype == DTYPE_FLOAT32 ? 4u : 1u);
  uint32_t out_bytes = info->output.elements * (info->output.dtype == DTYPE_FLOAT32 ? 4u : 1u);
  if (layers < 0 || (uint32_t)layers != info->layers) {
    snprintf(why, why_len, "layer_count() is %ld; the manifest lists %lu layers", (long)layers, (unsigned long)info->layers);
  } else if (!kiln_runtime_region(inst, 0, in_bytes) || !kiln_runtime_region(inst, 1, out_bytes)) {
    snprintf(why, why_len, "the input (%lu bytes) or output (%lu bytes) does not fit in the blob's memory", (unsigned long)in_bytes, (unsigned long)out_bytes);
  } else {
    return inst;
  }
  kiln_runtime_unload(inst);
  return NULL;
}

store_result store_commit(model_store *s, const uint8_t sha[32]) {
  active_model *a = &s->active;
  pending_upload *p = &s->pending;
  if (a->slot >= 0 && memcmp(a->id, sha, 32) == 0) {
    /* Already committed (a COMMIT repeated from a new session, or a deploy of the running blob). */
    if (p->open && memcmp(p->sha, sha, 32) == 0) store_discard_pending(s);
    return ok();
  }
  if (!p->open) return fail(ERR_NO_UPLOAD, 0, "LOAD_COMMIT without a pending upload");
  if (memcmp(p->sha, sha, 32) != 0) return fail(ERR_BAD_REQUEST, 0, "LOAD_COMMIT names another blob than LOAD_BEGIN");
  if (p->received < p->size) {
    store_result r = fail(ERR_INCOMPLETE, p->received, "");
    snprintf(r.message, sizeof r.message, "holds %lu of %lu bytes", (unsigned long)p->received, (unsigned long)p->size);
    return r;
  }
  int slot = inactive_slot(s);
  const uint8_t *blob = board_slot(slot);
  uint32_t size = p->size;
  uint8_t got[32];
  sha256(blob, size, got);
  store_result r = ok();
  if (memcmp(got, p->sha, 32) != 0) r = fail(ERR_HASH_MISMATCH, 0, "stored bytes do not have the announced SHA-256");
  else if (crc32_update(0, blob, size) != p->crc) r = fail(ERR_HASH_MISMATCH, 0, "stored bytes do not have the announced CRC-32");
  if (r.code) {
    store_discard_pending(s);
    return r;
  }
  manifest_info info;
  const uint8_t *manifest = NULL;
  uint32_t manifest_len = 0;
  uint8_t code;
  uint32_t detail;
  const char *why = inspect(blob, size, &info, &manifest, &manifest_len, &code, &detail, r.message, sizeof r.message);
  kiln_instance *inst = NULL;
  if (!why) {
    inst = instantiate(blob, size, &info, r.message, sizeof r.message, &code);
    if (!inst) why = r.message;
    detail = 0;
  }
  if (!inst) {
    store_discard_pending(s);
    if (why != r.message) snprintf(r.message, sizeof r.message, "%s", why);
    r.code = code;
    r.detail = detail;
    return r;
  }
  /* Everything checked: only now does the device serve the new blob. */
  if (a->inst) kiln_runtime_unload(a->inst);
  a->slot = slot;
  a->size = size;
  memcpy(a->id, p->sha, 32);
  a->inst = inst;
  a->info = info;
  a->manifest = manifest;
  a->manifest_len = manifest_len;
  store_discard_pending(s);
  return ok();
}

store_result store_reinstantiate(model_store *s) {
  active_model *a = &s->active;
  if (a->slot < 0) return ok();
  /* The old instance goes first: the runtime's pool need not hold two instances of one blob. */
  if (a->inst) kiln_runtime_unload(a->inst);
  a->inst = NULL;
  store_result r = ok();
  uint8_t code;
  a->inst = instantiate(board_slot(a->slot), a->size, &a->info, r.message, sizeof r.message, &code);
  if (!a->inst) {
    r.code = ERR_INTERNAL;
    return r;
  }
  return r;
}

void store_drop_instance(model_store *s) {
  if (s->active.inst) kiln_runtime_unload(s->active.inst);
  s->active.inst = NULL;
}

kiln_instance *store_instance(model_store *s, store_result *r) {
  *r = ok();
  if (s->active.slot < 0) {
    *r = fail(ERR_NO_MODEL, 0, "no model committed yet (kiln deploy one)");
    return NULL;
  }
  if (!s->active.inst) *r = store_reinstantiate(s);
  return s->active.inst;
}
