/* Clocks. Monotonic for durations and timers; wall clock for timestamps. */
#ifndef GD_CORE_CLOCK_H
#define GD_CORE_CLOCK_H

#include <stdint.h>

uint64_t gd_mono_ns(void); /* CLOCK_MONOTONIC in nanoseconds */
uint64_t gd_wall_ns(void); /* CLOCK_REALTIME in nanoseconds since the Unix epoch */

#endif
