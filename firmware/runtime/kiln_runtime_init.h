/* Runtime set-up the board's main() calls (kept out of kiln_runtime.h, the interface the protocol core uses). */
#ifndef KILN_RUNTIME_INIT_H
#define KILN_RUNTIME_INIT_H

#include <stdint.h>

int kiln_runtime_init(void);            /* 0, or -1 if WAMR could not start on its pool (kiln_runtime_load retries) */
uint32_t kiln_runtime_pool_bytes(void); /* the WAMR pool's size */
uint32_t kiln_runtime_pool_free(void);  /* bytes free in it now */

/* A backstop against a runaway blob: a call into the blob that runs longer than this is stopped at its next branch
   or call and fails with "run limit" (0, the default, means no limit). Checked every SysTick wrap (~0.67 s). */
void kiln_runtime_set_run_limit_ms(uint32_t ms);
/* The board's timer interrupt calls this (board.c has a weak empty default). */
void board_tick_hook(void);

#endif
