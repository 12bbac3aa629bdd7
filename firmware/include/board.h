/* The board interface: everything the portable firmware (protocol, store, runtime) needs from a board. */
#ifndef KILN_BOARD_H
#define KILN_BOARD_H

#include <stdint.h>
#include <stddef.h>

void board_init(void);
int board_uart_read(void);                 /* next received byte 0..255, or -1 if none waiting (non-blocking) */
void board_uart_write(const uint8_t *bytes, size_t n);  /* blocking until queued in the UART */
uint64_t board_cycles(void);               /* monotonic CPU cycle count (SysTick-extended) */
uint32_t board_clock_hz(void);             /* the stated CPU clock, e.g. 25000000 */
uint32_t board_millis(void);               /* ms since boot, from board_cycles */
const char *board_name(void);              /* e.g. "mps2-an386 (Cortex-M4, QEMU)" */
/* The two model slots: each a RAM region of board_slot_size() bytes. */
uint8_t *board_slot(int index);            /* index 0 or 1 */
uint32_t board_slot_size(void);
uint32_t board_memory_limit(void);         /* bytes of linear memory a blob may use (what HELLO states) */

#endif
