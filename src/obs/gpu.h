/* GPU telemetry: a background thread samples every NVIDIA GPU through NVML (utilisation,
 * memory, temperature, power) into girder_gpu_* gauges (docs/metrics.md). NVML is opened at
 * run time (GIRDER_NVML_LIBRARY, default libnvidia-ml.so.1): without it, or without a GPU,
 * girder logs one line and serves without GPU metrics.
 *
 * Threading: start and stop from the thread that owns the process's lifecycle. */
#ifndef GD_OBS_GPU_H
#define GD_OBS_GPU_H

#include <stdint.h>

/* Samples every interval_ms. Returns 0 (also when there is no NVML), or GD_ENOMEM / GD_EIO. */
int gd_gpu_start(uint64_t interval_ms);
void gd_gpu_stop(void);

#endif
