# WAMR platform layer for a board without an OS; runtime_lib.cmake includes this file through WAMR_BUILD_PLATFORM.
set(PLATFORM_SHARED_DIR ${CMAKE_CURRENT_LIST_DIR})
add_definitions(-DBH_PLATFORM_BAREMETAL)
include_directories(${PLATFORM_SHARED_DIR})
# WAMR's platform API headers, and board.h (time and stack come from the board).
include_directories(${SHARED_DIR}/platform/include ${PLATFORM_SHARED_DIR}/../../include)
file(GLOB_RECURSE source_all ${PLATFORM_SHARED_DIR}/*.c)
set(PLATFORM_SHARED_SOURCE ${source_all})
