/* Consistent Overhead Byte Stuffing: removes every 0x00 from a frame so that 0x00 can delimit frames. */
#ifndef KILN_COBS_H
#define KILN_COBS_H
#include <stddef.h>
#include <stdint.h>

/* The largest encoded size of n bytes (without delimiters): one byte per 254, plus one. */
#define COBS_MAX_ENCODED(n) ((n) + (n) / 254 + 1)

/* Encodes n bytes into out (room for COBS_MAX_ENCODED(n)); returns the encoded length. Canonical like cobs.ts. */
size_t cobs_encode(const uint8_t *in, size_t n, uint8_t *out);
/* Decodes n encoded bytes (no delimiter) into out, which may be `in` itself (decoding never overtakes reading).
   Returns the decoded length, or -1 on a zero byte or a block running past the end. */
long cobs_decode(const uint8_t *in, size_t n, uint8_t *out);

#endif
