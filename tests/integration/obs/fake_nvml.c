/* A stand-in for NVIDIA's libnvidia-ml.so.1 with the same C ABI for the functions girder
 * uses (nvml.h: NVML_SUCCESS = 0, opaque device handles, bytes, milliwatts), reporting two
 * GPUs with fixed readings, so that the dlopen/dlsym path, the sampler and the metrics are
 * tested on machines without an NVIDIA driver. FAKE_NVML_INIT_ERROR=n makes nvmlInit_v2
 * fail with n (e.g. 9: NVML_ERROR_DRIVER_NOT_LOADED). */
#include <stdlib.h>
#include <string.h>

struct dev {
    const char *name, *uuid;
    unsigned int util, mem_util, temp, power_mw;
    unsigned long long total, used;
};
static const struct dev devs[2] = {
    {"NVIDIA H100 80GB HBM3", "GPU-11111111-2222-3333-4444-555555555555", 37, 12, 41, 123456,
     85899345920ull, 1073741824ull},
    {"NVIDIA L4", "GPU-66666666-7777-8888-9999-000000000000", 0, 0, 30, 16000, 24159191040ull,
     0ull},
};
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
    return copy(out, len, d->name);
}
int nvmlDeviceGetUUID(const struct dev *d, char *out, unsigned int len)
{
    return copy(out, len, d->uuid);
}
int nvmlDeviceGetUtilizationRates(const struct dev *d, struct util *u)
{
    u->gpu = d->util;
    u->memory = d->mem_util;
    return 0;
}
int nvmlDeviceGetMemoryInfo(const struct dev *d, struct mem *m)
{
    m->total = d->total;
    m->used = d->used;
    m->free = d->total - d->used;
    return 0;
}
int nvmlDeviceGetTemperature(const struct dev *d, int sensor, unsigned int *t)
{
    if (sensor != 0)
        return 2;
    *t = d->temp;
    return 0;
}
int nvmlDeviceGetPowerUsage(const struct dev *d, unsigned int *mw)
{
    *mw = d->power_mw;
    return 0;
}
