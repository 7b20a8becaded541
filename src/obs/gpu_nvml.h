/* NVIDIA's NVML, opened at run time with dlopen: the few entry points girder reads, with the
 * C ABI of nvml.h (NVML_SUCCESS = 0, opaque device handles, memory in bytes, power in
 * milliwatts, clocks in MHz). The required functions (init, count, handle, name, UUID,
 * utilisation, memory, temperature, power) must all be there; clocks, ECC counters, throttle
 * reasons and per-process memory are read only where the library has them and the device
 * supports them (NVML_ERROR_NOT_SUPPORTED leaves the reading out).
 *
 * Threading: open/close from one thread; gd_gpu_nvml_read from the sampler thread only. */
#ifndef GD_OBS_GPU_NVML_H
#define GD_OBS_GPU_NVML_H

#include <stddef.h>

enum {
    GD_GPU_MAX = 64,       /* devices read */
    GD_GPU_NAME = 96,      /* name and UUID bytes */
    GD_GPU_MAX_PROCS = 32, /* per device: the ones using the most memory */
};

/* Which readings of a gd_gpu_reading are there. */
enum {
    GD_GPU_HAVE_UTIL = 1 << 0,
    GD_GPU_HAVE_MEMORY = 1 << 1,
    GD_GPU_HAVE_TEMP = 1 << 2,
    GD_GPU_HAVE_POWER = 1 << 3,
    GD_GPU_HAVE_CLOCKS = 1 << 4,
    GD_GPU_HAVE_ECC = 1 << 5,
    GD_GPU_HAVE_THROTTLE = 1 << 6,
    GD_GPU_HAVE_PROCS = 1 << 7,
};

struct gd_gpu_proc {
    unsigned int pid;
    unsigned long long memory; /* bytes */
};

struct gd_gpu_reading {
    int present; /* NVML gave a handle for the index */
    int lost;    /* NVML_ERROR_GPU_IS_LOST: fell off the bus, or was removed */
    char name[GD_GPU_NAME], uuid[GD_GPU_NAME];
    unsigned have;              /* GD_GPU_HAVE_* */
    double util, mem_util;      /* 0-1 */
    double mem_used, mem_total; /* bytes */
    double temp_c, power_w, sm_hz, mem_hz;
    unsigned long long ecc_corrected, ecc_uncorrected; /* since the driver loaded */
    unsigned long long throttle;                       /* NVML's clocks throttle reason bits */
    unsigned n_procs;
    struct gd_gpu_proc procs[GD_GPU_MAX_PROCS];
};

/* Opens path and initialises NVML. 0; GD_ENOTSUP when the library or a required function is
 * missing (*nvml_error 0) or nvmlInit failed (*nvml_error its code). */
int gd_gpu_nvml_open(const char *path, int *nvml_error);
/* The number of devices (at most GD_GPU_MAX), 0 when NVML cannot say. */
unsigned gd_gpu_nvml_count(void);
/* Everything readable about device i into r (which is cleared first). */
void gd_gpu_nvml_read(unsigned i, struct gd_gpu_reading *r);
/* nvmlShutdown; the library stays mapped (NVML's own threads may still be winding down). */
void gd_gpu_nvml_close(void);

#endif
