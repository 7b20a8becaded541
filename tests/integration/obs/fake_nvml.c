/* A stand-in for NVIDIA's libnvidia-ml.so.1 with the same C ABI for the functions girder
 * uses (nvml.h: NVML_SUCCESS = 0, opaque device handles, bytes, milliwatts), reporting two
 * GPUs with fixed readings, so that the dlopen/dlsym path, the sampler and the metrics are
 * tested on machines without an NVIDIA driver. FAKE_NVML_INIT_ERROR=n makes nvmlInit_v2
 * fail with n (e.g. 9: NVML_ERROR_DRIVER_NOT_LOADED). While the file FAKE_NVML_LOST_FILE names
 * exists, every query on GPU 1 fails with NVML_ERROR_GPU_IS_LOST (hot removal). GPU 1 has no
 * ECC (NVML_ERROR_NOT_SUPPORTED), as consumer cards. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum { NOT_SUPPORTED = 3, INSUFFICIENT_SIZE = 7, GPU_IS_LOST = 15 };

struct proc { /* nvmlProcessInfo_t */
    unsigned int pid;
    unsigned long long used;
    unsigned int gi, ci;
};
struct dev {
    int index;
    const char *name, *uuid;
    unsigned int util, mem_util, temp, power_mw, sm_mhz, mem_mhz;
    unsigned long long total, used, throttle;
    int ecc; /* corrected count, -1: not supported */
    unsigned n_procs;
    struct proc procs[3];
};
static const struct dev devs[2] = {
    {0,
     "NVIDIA H100 80GB HBM3",
     "GPU-11111111-2222-3333-4444-555555555555",
     37,
     12,
     41,
     123456,
     1980,
     2619,
     85899345920ull,
     1073741824ull,
     0x44,
     3,
     3,
     {{4242, 2147483648ull, 0, 0}, {4343, 536870912ull, 0, 0}, {4444, ~0ull, 0, 0}}},
    {1,
     "NVIDIA L4",
     "GPU-66666666-7777-8888-9999-000000000000",
     0,
     0,
     30,
     16000,
     2040,
     6251,
     24159191040ull,
     0ull,
     0x1,
     -1,
     0,
     {{0, 0, 0, 0}}},
};

static int lost(const struct dev *d)
{
    const char *f = getenv("FAKE_NVML_LOST_FILE");
    return d->index == 1 && f && access(f, F_OK) == 0;
}
struct util {
    unsigned int gpu, memory;
};
struct mem {
    unsigned long long total, free, used;
};

int nvmlInit_v2(void)
{
    const char *e = getenv("FAKE_NVML_INIT_ERROR");
    return e ? atoi(e) : 0;
}
int nvmlShutdown(void)
{
    return 0;
}
int nvmlDeviceGetCount_v2(unsigned int *n)
{
    *n = 2;
    return 0;
}
int nvmlDeviceGetHandleByIndex_v2(unsigned int i, const struct dev **d)
{
    if (i >= 2)
        return 2; /* NVML_ERROR_INVALID_ARGUMENT */
    *d = &devs[i];
    return 0;
}
static int copy(char *out, unsigned int len, const char *s)
{
    if (strlen(s) + 1 > len)
        return 7; /* NVML_ERROR_INSUFFICIENT_SIZE */
    memcpy(out, s, strlen(s) + 1);
    return 0;
}
int nvmlDeviceGetName(const struct dev *d, char *out, unsigned int len)
{
    if (lost(d))
        return GPU_IS_LOST;
    return copy(out, len, d->name);
}
int nvmlDeviceGetUUID(const struct dev *d, char *out, unsigned int len)
{
    if (lost(d))
        return GPU_IS_LOST;
    return copy(out, len, d->uuid);
}
int nvmlDeviceGetUtilizationRates(const struct dev *d, struct util *u)
{
    if (lost(d))
        return GPU_IS_LOST;
    u->gpu = d->util;
    u->memory = d->mem_util;
    return 0;
}
int nvmlDeviceGetMemoryInfo(const struct dev *d, struct mem *m)
{
    if (lost(d))
        return GPU_IS_LOST;
    m->total = d->total;
    m->used = d->used;
    m->free = d->total - d->used;
    return 0;
}
int nvmlDeviceGetTemperature(const struct dev *d, int sensor, unsigned int *t)
{
    if (lost(d))
        return GPU_IS_LOST;
    if (sensor != 0)
        return 2;
    *t = d->temp;
    return 0;
}
int nvmlDeviceGetPowerUsage(const struct dev *d, unsigned int *mw)
{
    if (lost(d))
        return GPU_IS_LOST;
    *mw = d->power_mw;
    return 0;
}
int nvmlDeviceGetClockInfo(const struct dev *d, int type, unsigned int *mhz)
{
    if (lost(d))
        return GPU_IS_LOST;
    if (type != 1 && type != 2) /* NVML_CLOCK_SM, NVML_CLOCK_MEM */
        return 2;
    *mhz = type == 1 ? d->sm_mhz : d->mem_mhz;
    return 0;
}
int nvmlDeviceGetTotalEccErrors(const struct dev *d, int type, int counter, unsigned long long *n)
{
    if (lost(d))
        return GPU_IS_LOST;
    if (d->ecc < 0)
        return NOT_SUPPORTED;
    if ((type != 0 && type != 1) || counter != 0) /* corrected/uncorrected, volatile */
        return 2;
    *n = type == 0 ? (unsigned long long)d->ecc : 0;
    return 0;
}
int nvmlDeviceGetCurrentClocksThrottleReasons(const struct dev *d, unsigned long long *r)
{
    if (lost(d))
        return GPU_IS_LOST;
    *r = d->throttle;
    return 0;
}
int nvmlDeviceGetComputeRunningProcesses_v3(const struct dev *d, unsigned int *n, struct proc *out)
{
    if (lost(d))
        return GPU_IS_LOST;
    unsigned have = *n;
    *n = d->n_procs;
    if (have < d->n_procs)
        return INSUFFICIENT_SIZE;
    memcpy(out, d->procs, d->n_procs * sizeof d->procs[0]);
    return 0;
}
