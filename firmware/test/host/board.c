/* A fake board for testing the agent natively: the UART is stdin/stdout, cycles are nanoseconds, slots are static. */
#define _POSIX_C_SOURCE 200809L
#include "board.h"
#include <errno.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#define SLOT_SIZE (512u * 1024u)

static uint8_t slots[2][SLOT_SIZE];
static uint8_t inbuf[4096];
static ssize_t in_len, in_at;

void board_init(void) {}

/* Blocks for the next byte (the real board polls); the host closing stdin ends the process. */
int board_uart_read(void) {
  if (in_at >= in_len) {
    do in_len = read(0, inbuf, sizeof inbuf); while (in_len < 0 && errno == EINTR);
    if (in_len <= 0) exit(0);
    in_at = 0;
  }
  return inbuf[in_at++];
}

void board_uart_write(const uint8_t *bytes, size_t n) {
  while (n > 0) {
    ssize_t w = write(1, bytes, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) exit(1);
    bytes += w;
    n -= (size_t)w;
  }
}

uint64_t board_cycles(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

uint32_t board_clock_hz(void) { return 1000000000u; }
uint32_t board_millis(void) { return (uint32_t)(board_cycles() / 1000000u); }
const char *board_name(void) { return "host (fake board for tests)"; }
uint8_t *board_slot(int index) { return slots[index & 1]; }
uint32_t board_slot_size(void) { return SLOT_SIZE; }

/* KILN_FAKE_MEMORY_LIMIT lets a test make a blob's memory too large for the device. */
uint32_t board_memory_limit(void) {
  const char *s = getenv("KILN_FAKE_MEMORY_LIMIT");
  return s ? (uint32_t)strtoul(s, NULL, 10) : 16u * 1024u * 1024u;
}
