/* CRC-32 (IEEE 802.3, reflected 0xEDB88320): the per-frame and per-blob checksum of docs/protocol.md. */
#ifndef KILN_CRC32_H
#define KILN_CRC32_H
#include <stddef.h>
#include <stdint.h>

/* Continues a CRC: crc32_update(crc32_update(0, a), b) == crc32 of a followed by b; crc32_update(0, "123456789") == 0xCBF43926. */
uint32_t crc32_update(uint32_t previous, const uint8_t *bytes, size_t n);

#endif
