# mps2-an386 (QEMU): sources, linker script and the RAM budget of this board. Included by firmware/CMakeLists.txt.
set(BOARD_DIR ${CMAKE_CURRENT_LIST_DIR})
set(BOARD_SOURCES ${BOARD_DIR}/startup.c ${BOARD_DIR}/board.c)
set(BOARD_LINKER_SCRIPT ${BOARD_DIR}/mps2-an386.ld)
set(BOARD_CPU_FLAGS -mthumb -mcpu=cortex-m4 -mfloat-abi=soft)
# The 4 MiB of data memory: two 512 KiB model slots (a blob of up to 512 KiB; mnist-cnn scalar is 206 KiB),
# a 2.75 MiB WAMR pool (two live instances during a COMMIT, each up to the 1 MiB linear-memory limit, plus the
# interpreter's code and stacks), and ~0.25 MiB for the firmware, its heap and its 64 KiB stack.
set(BOARD_DEFINITIONS
  KILN_SLOT_BYTES=524288u
  KILN_WAMR_POOL_BYTES=2883584u
  KILN_MEMORY_LIMIT=1048576u)
set(WAMR_TARGET THUMBV7EM)
