/* GPU telemetry through NVML (see gpu.h). libnvidia-ml is opened with dlopen at start, so
 * girder builds, starts and serves on machines without NVIDIA's driver; only the handful of
 * NVML entry points below are used, with the C ABI of nvml.h (NVML_SUCCESS = 0, device
 * handles are opaque pointers, memory in bytes, power in milliwatts). */
#include "obs/gpu.h"
#include "core/log.h"
#include "girder/error.h"
#include "obs/metrics.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum { MAX_GPUS = 64, NAME_LEN = 96 };

typedef void *nvml_device;
struct nvml_utilization {
    unsigned int gpu, memory; /* percent over the last sample period */
};
struct nvml_memory {
    unsigned long long total, free, used;
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
} N;

static struct {
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int running, stop;
    uint64_t interval_ms;
    struct gd_gauge_vec *info, *util, *mem_util, *mem_used, *mem_total, *temp, *power;
} G = {.mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};

static int load(const char *path)
{
    if (!(N.lib = dlopen(path, RTLD_NOW | RTLD_LOCAL)))
        return GD_ENOTSUP;
    struct {
        void **fn;
        const char *sym;
    } syms[] = {
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
    for (size_t i = 0; i < sizeof syms / sizeof syms[0]; i++)
        if (!(*syms[i].fn = dlsym(N.lib, syms[i].sym))) {
            gd_logf(GD_LOG_WARN, "msg=\"NVML library lacks a function, no GPU metrics\" symbol=%s",
                    syms[i].sym);
            dlclose(N.lib);
            N.lib = NULL;
            return GD_ENOTSUP;
        }
    return 0;
}

static void set(struct gd_gauge_vec *v, const char *gpu, double value)
{
    gd_gauge_set(gd_gauge_vec_get(v, (const char *const[]){gpu}), value);
}

/* One pass over the devices; a device that fails a query keeps its previous values. */
static void sample(void)
{
    unsigned int n = 0;
    if (N.count(&n) != 0)
        return;
    for (unsigned int i = 0; i < n && i < MAX_GPUS; i++) {
        nvml_device d;
        if (N.handle(i, &d) != 0)
            continue;
        char gpu[12], name[NAME_LEN] = "", uuid[NAME_LEN] = "";
        snprintf(gpu, sizeof gpu, "%u", i);
        if (N.name(d, name, sizeof name) == 0 && N.uuid(d, uuid, sizeof uuid) == 0) {
            name[sizeof name - 1] = uuid[sizeof uuid - 1] = 0;
            gd_gauge_set(gd_gauge_vec_get(G.info, (const char *const[]){gpu, name, uuid}), 1);
        }
        struct nvml_utilization u;
        if (N.util(d, &u) == 0) {
            set(G.util, gpu, u.gpu / 100.0);
            set(G.mem_util, gpu, u.memory / 100.0);
        }
        struct nvml_memory m;
        if (N.memory(d, &m) == 0) {
            set(G.mem_used, gpu, (double)m.used);
            set(G.mem_total, gpu, (double)m.total);
        }
        unsigned int t, p;
        if (N.temperature(d, 0 /* NVML_TEMPERATURE_GPU */, &t) == 0)
            set(G.temp, gpu, t);
        if (N.power(d, &p) == 0)
            set(G.power, gpu, p / 1000.0);
    }
}

static void *sampler_main(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&G.mu);
    while (!G.stop) {
        pthread_mutex_unlock(&G.mu);
        sample(); /* NVML calls can take milliseconds: never on a loop thread */
        pthread_mutex_lock(&G.mu);
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        uint64_t ns = (uint64_t)ts.tv_nsec + G.interval_ms % 1000 * 1000000u;
        ts.tv_sec += (time_t)(G.interval_ms / 1000 + ns / 1000000000u);
        ts.tv_nsec = (long)(ns % 1000000000u);
        while (!G.stop && pthread_cond_timedwait(&G.cv, &G.mu, &ts) == 0)
            ;
    }
    pthread_mutex_unlock(&G.mu);
    return NULL;
}

static int families(struct gd_metrics *m)
{
    static const char *const g[] = {"gpu"}, *const gi[] = {"gpu", "name", "uuid"};
    struct {
        struct gd_gauge_vec **v;
        const char *name, *help;
        const char *const *labels;
        size_t n;
    } f[] = {
        {&G.info, "girder_gpu_info", "1 per GPU NVML reports, with its name and UUID", gi, 3},
        {&G.util, "girder_gpu_utilization_ratio", "GPU busy time over NVML's last period (0-1)", g,
         1},
        {&G.mem_util, "girder_gpu_memory_utilization_ratio",
         "Time the GPU's memory was being read or written (0-1)", g, 1},
        {&G.mem_used, "girder_gpu_memory_used_bytes", "GPU memory in use", g, 1},
        {&G.mem_total, "girder_gpu_memory_total_bytes", "GPU memory installed", g, 1},
        {&G.temp, "girder_gpu_temperature_celsius", "GPU core temperature", g, 1},
        {&G.power, "girder_gpu_power_watts", "GPU board power draw", g, 1},
    };
    for (size_t i = 0; i < sizeof f / sizeof f[0]; i++) {
        int rc = gd_metrics_gauge(
            m, &(struct gd_metric_opts){f[i].name, f[i].help, f[i].labels, f[i].n, 0}, f[i].v);
        if (rc)
            return rc;
    }
    return 0;
}

int gd_gpu_start(uint64_t interval_ms)
{
    const char *path = getenv("GIRDER_NVML_LIBRARY");
    if (!path || !*path)
        path = "libnvidia-ml.so.1";
    if (load(path) != 0) {
        gd_logf(GD_LOG_INFO, "msg=\"no NVML library, no GPU metrics\" library=%s", path);
        return 0;
    }
    int rc = N.init();
    if (rc != 0) {
        gd_logf(GD_LOG_WARN, "msg=\"NVML did not initialise, no GPU metrics\" nvml_error=%d", rc);
        dlclose(N.lib);
        N.lib = NULL;
        return 0;
    }
    struct gd_metrics *m = gd_metrics_default();
    if (!m || families(m) != 0) {
        N.shutdown();
        return GD_ENOMEM;
    }
    G.interval_ms = interval_ms ? interval_ms : 1;
    G.stop = 0;
    if (pthread_create(&G.thread, NULL, sampler_main, NULL) != 0) {
        N.shutdown();
        return GD_EIO;
    }
    G.running = 1;
    unsigned int n = 0;
    N.count(&n);
    gd_logf(GD_LOG_INFO, "msg=\"GPU metrics from NVML\" gpus=%u interval_ms=%llu", n,
            (unsigned long long)G.interval_ms);
    return 0;
}

void gd_gpu_stop(void)
{
    if (!G.running)
        return;
    pthread_mutex_lock(&G.mu);
    G.stop = 1;
    pthread_cond_signal(&G.cv);
    pthread_mutex_unlock(&G.mu);
    pthread_join(G.thread, NULL);
    G.running = 0;
    N.shutdown();
    /* the library stays mapped: NVML's own threads may still be winding down */
}
