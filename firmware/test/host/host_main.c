/* The native test build's entry point: the agent over stdin/stdout. */
#include "agent.h"
#include "board.h"

int main(void) {
  board_init();
  kiln_agent_main();
  return 0;
}
