/* NVML through dlopen (see gpu_nvml.h). */
#include "obs/gpu_nvml.h"
#include "core/log.h"
#include "girder/error.h"

#include <dlfcn.h>
#include <stdlib.h>
#include <string.h>

enum {
    NVML_ERROR_NOT_SUPPORTED = 3,
    NVML_ERROR_INSUFFICIENT_SIZE = 7,
    NVML_ERROR_GPU_IS_LOST = 15,
    NVML_TEMPERATURE_GPU = 0,
    NVML_CLOCK_SM = 1,
    NVML_CLOCK_MEM = 2,
    NVML_MEMORY_ERROR_TYPE_CORRECTED = 0,
    NVML_MEMORY_ERROR_TYPE_UNCORRECTED = 1,
    NVML_VOLATILE_ECC = 0,
    PROC_QUERY = 256, /* processes asked for in one call */
};
#define NVML_VALUE_NOT_AVAILABLE (~0ull)

typedef void *nvml_device;
struct nvml_utilization {
    unsigned int gpu, memory; /* percent over the last sample period */
};
struct nvml_memory {
    unsigned long long total, free, used;
};
struct nvml_process { /* nvmlProcessInfo_t (v2 layout, also what _v3 fills) */
    unsigned int pid;
    unsigned long long used_memory;
    unsigned int gpu_instance, compute_instance;
};

static struct {
    void *lib;
    int (*init)(void);
    int (*shutdown)(void);
    int (*count)(unsigned int *);
    int (*handle)(unsigned int, nvml_device *);
    int (*name)(nvml_device, char *, unsigned int);
    int (*uuid)(nvml_device, char *, unsigned int);
    int (*util)(nvml_device, struct nvml_utilization *);
    int (*memory)(nvml_device, struct nvml_memory *);
    int (*temperature)(nvml_device, int, unsigned int *);
    int (*power)(nvml_device, unsigned int *);
    /* optional */
    int (*clock)(nvml_device, int, unsigned int *);
    int (*ecc)(nvml_device, int, int, unsigned long long *);
    int (*throttle)(nvml_device, unsigned long long *);
    int (*procs)(nvml_device, unsigned int *, struct nvml_process *);
} N;

static void *first_sym(const char *const *names)
{
    void *f = NULL;
    for (; *names && !f; names++)
        f = dlsym(N.lib, *names);
    return f;
}

int gd_gpu_nvml_open(const char *path, int *nvml_error)
{
    *nvml_error = 0;
    if (!(N.lib = dlopen(path, RTLD_NOW | RTLD_LOCAL)))
        return GD_ENOTSUP;
    struct {
        void **fn;
        const char *sym;
    } req[] = {
        {(void **)&N.init, "nvmlInit_v2"},
        {(void **)&N.shutdown, "nvmlShutdown"},
        {(void **)&N.count, "nvmlDeviceGetCount_v2"},
        {(void **)&N.handle, "nvmlDeviceGetHandleByIndex_v2"},
        {(void **)&N.name, "nvmlDeviceGetName"},
        {(void **)&N.uuid, "nvmlDeviceGetUUID"},
        {(void **)&N.util, "nvmlDeviceGetUtilizationRates"},
        {(void **)&N.memory, "nvmlDeviceGetMemoryInfo"},
        {(void **)&N.temperature, "nvmlDeviceGetTemperature"},
        {(void **)&N.power, "nvmlDeviceGetPowerUsage"},
    };
    for (size_t i = 0; i < sizeof req / sizeof req[0]; i++)
        if (!(*req[i].fn = dlsym(N.lib, req[i].sym))) {
            gd_logf(GD_LOG_WARN, "msg=\"NVML library lacks a function, no GPU metrics\" symbol=%s",
                    req[i].sym);
            dlclose(N.lib);
            N.lib = NULL;
            return GD_ENOTSUP;
        }
    /* newer drivers renamed throttle reasons to clock event reasons; both keep the ABI */
    *(void **)&N.clock = first_sym((const char *const[]){"nvmlDeviceGetClockInfo", NULL});
    *(void **)&N.ecc = first_sym((const char *const[]){"nvmlDeviceGetTotalEccErrors", NULL});
    *(void **)&N.throttle =
        first_sym((const char *const[]){"nvmlDeviceGetCurrentClocksEventReasons",
                                        "nvmlDeviceGetCurrentClocksThrottleReasons", NULL});
    *(void **)&N.procs =
        first_sym((const char *const[]){"nvmlDeviceGetComputeRunningProcesses_v3",
                                        "nvmlDeviceGetComputeRunningProcesses_v2", NULL});
    int rc = N.init();
    if (rc != 0) {
        *nvml_error = rc;
        dlclose(N.lib);
        N.lib = NULL;
        return GD_ENOTSUP;
    }
    return 0;
}

unsigned gd_gpu_nvml_count(void)
{
    unsigned int n = 0;
    if (!N.lib || N.count(&n) != 0)
        return 0;
    return n < GD_GPU_MAX ? n : GD_GPU_MAX;
}

static int by_memory_desc(const void *a, const void *b)
{
    const struct gd_gpu_proc *x = a, *y = b;
    return x->memory < y->memory ? 1 : x->memory > y->memory ? -1 : 0;
}

/* The compute processes on d, largest first, at most GD_GPU_MAX_PROCS; the NVML code. */
static int read_procs(nvml_device d, struct gd_gpu_reading *r)
{
    struct nvml_process p[PROC_QUERY];
    unsigned int n = PROC_QUERY;
    int rc = N.procs(d, &n, p);
    if (rc != 0)
        return rc; /* INSUFFICIENT_SIZE too: over PROC_QUERY processes, none reported */
    struct gd_gpu_proc all[PROC_QUERY];
    unsigned k = 0;
    for (unsigned i = 0; i < n && i < PROC_QUERY; i++)
        if (p[i].used_memory != NVML_VALUE_NOT_AVAILABLE) /* e.g. no permission in a container */
            all[k++] = (struct gd_gpu_proc){p[i].pid, p[i].used_memory};
    qsort(all, k, sizeof all[0], by_memory_desc);
    r->n_procs = k < GD_GPU_MAX_PROCS ? k : GD_GPU_MAX_PROCS;
    memcpy(r->procs, all, r->n_procs * sizeof all[0]);
    r->have |= GD_GPU_HAVE_PROCS;
    return 0;
}

void gd_gpu_nvml_read(unsigned i, struct gd_gpu_reading *r)
{
    memset(r, 0, sizeof *r);
    nvml_device d;
    int rc = N.lib ? N.handle(i, &d) : -1;
    if (rc != 0) {
        r->lost = rc == NVML_ERROR_GPU_IS_LOST;
        return;
    }
    r->present = 1;
    int lost = 0;
#define TAKE(call, bit, ...)                                                                       \
    do {                                                                                           \
        int e_ = (call);                                                                           \
        lost |= e_ == NVML_ERROR_GPU_IS_LOST;                                                      \
        if (e_ == 0) {                                                                             \
            r->have |= (bit);                                                                      \
            __VA_ARGS__;                                                                           \
        }                                                                                          \
    } while (0)
    if (N.name(d, r->name, sizeof r->name) != 0 || N.uuid(d, r->uuid, sizeof r->uuid) != 0)
        r->name[0] = r->uuid[0] = 0;
    r->name[sizeof r->name - 1] = r->uuid[sizeof r->uuid - 1] = 0;
    struct nvml_utilization u;
    TAKE(N.util(d, &u), GD_GPU_HAVE_UTIL, r->util = u.gpu / 100.0, r->mem_util = u.memory / 100.0);
    struct nvml_memory m;
    TAKE(N.memory(d, &m), GD_GPU_HAVE_MEMORY, r->mem_used = (double)m.used,
         r->mem_total = (double)m.total);
    unsigned int t, p, sm, mem;
    TAKE(N.temperature(d, NVML_TEMPERATURE_GPU, &t), GD_GPU_HAVE_TEMP, r->temp_c = t);
    TAKE(N.power(d, &p), GD_GPU_HAVE_POWER, r->power_w = p / 1000.0);
    if (N.clock) {
        int e = N.clock(d, NVML_CLOCK_SM, &sm);
        TAKE(e ? e : N.clock(d, NVML_CLOCK_MEM, &mem), GD_GPU_HAVE_CLOCKS, r->sm_hz = sm * 1e6,
             r->mem_hz = mem * 1e6);
    }
    if (N.ecc) {
        int e = N.ecc(d, NVML_MEMORY_ERROR_TYPE_CORRECTED, NVML_VOLATILE_ECC, &r->ecc_corrected);
        TAKE(e ? e
               : N.ecc(d, NVML_MEMORY_ERROR_TYPE_UNCORRECTED, NVML_VOLATILE_ECC,
                       &r->ecc_uncorrected),
             GD_GPU_HAVE_ECC, (void)0);
    }
    if (N.throttle)
        TAKE(N.throttle(d, &r->throttle), GD_GPU_HAVE_THROTTLE, (void)0);
    if (N.procs)
        lost |= read_procs(d, r) == NVML_ERROR_GPU_IS_LOST;
#undef TAKE
    if (lost) { /* what was read before NVML noticed is not trusted either */
        memset(r, 0, sizeof *r);
        r->lost = 1;
    }
}

void gd_gpu_nvml_close(void)
{
    if (N.lib)
        N.shutdown();
}
