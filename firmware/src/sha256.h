/* SHA-256 (FIPS 180-4), streaming: the model id and the COMMIT check cover every byte of a blob. */
#ifndef KILN_SHA256_H
#define KILN_SHA256_H
#include <stddef.h>
#include <stdint.h>

typedef struct {
  uint32_t h[8];
  uint64_t bytes;
  uint8_t block[64];
  uint32_t used;
} sha256_ctx;

void sha256_init(sha256_ctx *c);
void sha256_update(sha256_ctx *c, const uint8_t *data, size_t n);
void sha256_final(sha256_ctx *c, uint8_t out[32]);
void sha256(const uint8_t *data, size_t n, uint8_t out[32]);

#endif
