/* The model store: two RAM slots (the active blob and the pending upload), a verified COMMIT and an atomic swap. */
#ifndef KILN_STORE_H
#define KILN_STORE_H
#include <stdbool.h>
#include <stdint.h>
#include "kiln_runtime.h"
#include "manifest.h"

typedef struct {
  int slot;               /* -1: no committed model */
  uint32_t size;
  uint8_t id[32];         /* SHA-256 of the blob: the model id */
  kiln_instance *inst;    /* NULL after a failed re-instantiation; then reloaded on demand */
  manifest_info info;
  const uint8_t *manifest;
  uint32_t manifest_len;
} active_model;

typedef struct {
  bool open;
  uint32_t size;
  uint8_t sha[32];
  uint32_t crc;
  uint32_t received;      /* contiguous bytes held in the inactive slot */
} pending_upload;

typedef struct {
  active_model active;
  pending_upload pending;
} model_store;

/* A refusal: ERROR code, detail and a one-line message. code 0 means success. */
typedef struct {
  uint8_t code;
  uint32_t detail;
  char message[160];
} store_result;

void store_init(model_store *s);
/* LOAD_BEGIN: the offset to continue from (bytes held for this same size and hash, or 0 for a fresh upload). */
store_result store_begin(model_store *s, uint32_t size, const uint8_t sha[32], uint32_t crc, uint32_t *offset);
/* LOAD_CHUNK: appends what is new; *next = bytes now held. *beyond set when the chunk starts past them. */
store_result store_write(model_store *s, uint32_t offset, const uint8_t *data, uint32_t n, uint32_t *next, bool *beyond);
/* LOAD_COMMIT: verifies the pending upload and swaps it in; on any failure the active model keeps serving. */
store_result store_commit(model_store *s, const uint8_t sha[32]);
void store_discard_pending(model_store *s);
/* RESET: a fresh instance of the active model. */
store_result store_reinstantiate(model_store *s);
/* Forgets the active model's instance after a failed call; the next request instantiates the blob again. */
void store_drop_instance(model_store *s);
/* The active model's instance (loading it again if a RESET left none); NULL with *r set otherwise. */
kiln_instance *store_instance(model_store *s, store_result *r);

#endif
