/* Firmware entry: bring up the board and the WebAssembly runtime, then serve the Kiln protocol forever. */
#include "board.h"
#include "kiln_runtime_init.h"
#include "agent.h"

#ifndef KILN_RUNTIME_STOP_MS
#define KILN_RUNTIME_STOP_MS 60000u
#endif

int main(void)
{
    board_init();
    /* A failure here leaves WAMR uninitialised; kiln_runtime_load retries and reports it to the host as an error. */
    (void)kiln_runtime_init();
    /* A backstop only (one call into a blob; mnist-cnn takes ~10 s of virtual time under -icount shift=5):
       without it a blob that loops forever would hang the board for good. */
    kiln_runtime_set_run_limit_ms(KILN_RUNTIME_STOP_MS);
    kiln_agent_main();
    return 0;
}
