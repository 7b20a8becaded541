/* GPU telemetry (see gpu.h): the sampler thread reads every device through gpu_nvml.c into
 * a working set and swaps it in as the snapshot; a metrics collector renders the snapshot at
 * scrape time. Series therefore follow the devices: a process that ended or a reading a device
 * stopped giving disappears instead of repeating its last value, and a lost GPU shows as
 * girder_gpu_up 0 with its last known name and UUID. */
#include "obs/gpu.h"
#include "core/clock.h"
#include "core/log.h"
#include "girder/error.h"
#include "obs/gpu_nvml.h"
#include "obs/metrics.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct device {
    struct gd_gpu_reading r;
    char name[GD_GPU_NAME], uuid[GD_GPU_NAME]; /* last known, kept while lost */
    int seen, lost_logged;
};

static struct {
    pthread_t thread;
    pthread_mutex_t mu; /* guards snap, n_snap, sample_s, stop */
    pthread_cond_t cv;
    int running, stop, collector_added;
    uint64_t interval_ms;
    struct device work[GD_GPU_MAX]; /* the sampler's own */
    struct device snap[GD_GPU_MAX]; /* what a scrape renders */
    unsigned n_snap;
    double sample_s; /* duration of the last pass over the devices */
} G = {.mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};

/* One pass over the devices into G.work, then the snapshot. */
static void sample(void)
{
    uint64_t t0 = gd_mono_ns();
    unsigned n = gd_gpu_nvml_count();
    for (unsigned i = 0; i < n; i++) {
        struct device *d = &G.work[i];
        gd_gpu_nvml_read(i, &d->r);
        if (d->r.present && d->r.name[0]) {
            memcpy(d->name, d->r.name, sizeof d->name);
            memcpy(d->uuid, d->r.uuid, sizeof d->uuid);
        }
        d->seen |= d->r.present;
        if (d->r.lost && !d->lost_logged)
            gd_logf(GD_LOG_WARN, "msg=\"GPU lost\" gpu=%u uuid=%s", i, d->uuid[0] ? d->uuid : "-");
        else if (d->r.present && d->lost_logged)
            gd_logf(GD_LOG_INFO, "msg=\"GPU answers again\" gpu=%u uuid=%s", i, d->uuid);
        d->lost_logged = d->r.lost ? 1 : d->r.present ? 0 : d->lost_logged;
    }
    double s = (double)(gd_mono_ns() - t0) / 1e9;
    pthread_mutex_lock(&G.mu);
    memcpy(G.snap, G.work, n * sizeof G.work[0]);
    G.n_snap = n;
    G.sample_s = s;
    pthread_mutex_unlock(&G.mu);
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

/* ---- rendering (the scrape's thread, G.mu held) ---- */

/* What one family shows of a device: 1 and *v, or 0 (no sample). extra: a label pair
 * (name="value") after gpu, for the families with a second label. */
typedef int (*value_fn)(const struct device *d, size_t k, double *v, char *extra, size_t cap);

struct family {
    const char *name, *type, *help;
    value_fn fn;
    size_t per_device; /* samples per device (the fn's k ranges over them) */
};

#define HAVE(bit) (d->r.present && !d->r.lost && (d->r.have & (bit)))

static int f_up(const struct device *d, size_t k, double *v, char *x, size_t cap)
{
    (void)k, (void)x, (void)cap;
    *v = d->r.present && !d->r.lost;
    return d->seen || d->r.lost;
}
static int f_info(const struct device *d, size_t k, double *v, char *x, size_t cap)
{
    (void)k;
    *v = 1;
    struct gd_buf b;
    gd_buf_init(&b, cap);
    int ok = gd_buf_puts(&b, "name=\"") == 0 &&
             gd_metrics_put_label_value(&b, d->name, strlen(d->name)) == 0 &&
             gd_buf_puts(&b, "\",uuid=\"") == 0 &&
             gd_metrics_put_label_value(&b, d->uuid, strlen(d->uuid)) == 0 &&
             gd_buf_puts(&b, "\"") == 0 && b.len < cap;
    if (ok)
        memcpy(x, b.data, b.len + 1);
    gd_buf_free(&b);
    return ok && d->seen && d->name[0];
}
#define SIMPLE(fname, bit, expr)                                                                   \
    static int fname(const struct device *d, size_t k, double *v, char *x, size_t cap)             \
    {                                                                                              \
        (void)k, (void)x, (void)cap;                                                               \
        *v = (expr);                                                                               \
        return HAVE(bit);                                                                          \
    }
SIMPLE(f_util, GD_GPU_HAVE_UTIL, d->r.util)
SIMPLE(f_mem_util, GD_GPU_HAVE_UTIL, d->r.mem_util)
SIMPLE(f_mem_used, GD_GPU_HAVE_MEMORY, d->r.mem_used)
SIMPLE(f_mem_total, GD_GPU_HAVE_MEMORY, d->r.mem_total)
SIMPLE(f_temp, GD_GPU_HAVE_TEMP, d->r.temp_c)
SIMPLE(f_power, GD_GPU_HAVE_POWER, d->r.power_w)
SIMPLE(f_sm_clock, GD_GPU_HAVE_CLOCKS, d->r.sm_hz)
SIMPLE(f_mem_clock, GD_GPU_HAVE_CLOCKS, d->r.mem_hz)

static int f_ecc(const struct device *d, size_t k, double *v, char *x, size_t cap)
{
    snprintf(x, cap, "type=\"%s\"", k ? "uncorrected" : "corrected");
    *v = (double)(k ? d->r.ecc_uncorrected : d->r.ecc_corrected);
    return HAVE(GD_GPU_HAVE_ECC);
}

/* nvml.h's clocks throttle (event) reason bits, named as DCGM names them. */
static const struct {
    unsigned long long bit;
    const char *name;
} throttle_bits[] = {
    {0x1, "gpu_idle"},
    {0x2, "applications_clocks_setting"},
    {0x4, "sw_power_cap"},
    {0x8, "hw_slowdown"},
    {0x10, "sync_boost"},
    {0x20, "sw_thermal_slowdown"},
    {0x40, "hw_thermal_slowdown"},
    {0x80, "hw_power_brake_slowdown"},
    {0x100, "display_clock_setting"},
};
enum { N_THROTTLE = sizeof throttle_bits / sizeof throttle_bits[0] };

static int f_throttle(const struct device *d, size_t k, double *v, char *x, size_t cap)
{
    snprintf(x, cap, "reason=\"%s\"", throttle_bits[k].name);
    *v = (d->r.throttle & throttle_bits[k].bit) != 0;
    return HAVE(GD_GPU_HAVE_THROTTLE);
}

static int f_proc(const struct device *d, size_t k, double *v, char *x, size_t cap)
{
    if (k >= d->r.n_procs || !HAVE(GD_GPU_HAVE_PROCS))
        return 0;
    snprintf(x, cap, "pid=\"%u\"", d->r.procs[k].pid);
    *v = (double)d->r.procs[k].memory;
    return 1;
}

static const struct family families[] = {
    {"girder_gpu_up", "gauge", "1 while NVML answers for the GPU, 0 once it is lost", f_up, 1},
    {"girder_gpu_info", "gauge", "1 per GPU NVML reports, with its name and UUID", f_info, 1},
    {"girder_gpu_utilization_ratio", "gauge", "GPU busy time over NVML's last period (0-1)", f_util,
     1},
    {"girder_gpu_memory_utilization_ratio", "gauge",
     "Time the GPU's memory was being read or written (0-1)", f_mem_util, 1},
    {"girder_gpu_memory_used_bytes", "gauge", "GPU memory in use", f_mem_used, 1},
    {"girder_gpu_memory_total_bytes", "gauge", "GPU memory installed", f_mem_total, 1},
    {"girder_gpu_temperature_celsius", "gauge", "GPU core temperature", f_temp, 1},
    {"girder_gpu_power_watts", "gauge", "GPU board power draw", f_power, 1},
    {"girder_gpu_sm_clock_hertz", "gauge", "Current SM clock", f_sm_clock, 1},
    {"girder_gpu_memory_clock_hertz", "gauge", "Current memory clock", f_mem_clock, 1},
    {"girder_gpu_ecc_errors_total", "counter",
     "ECC memory errors since the driver loaded (volatile counters)", f_ecc, 2},
    {"girder_gpu_throttle_reason", "gauge", "1 while the clocks are held back for the reason",
     f_throttle, N_THROTTLE},
    {"girder_gpu_process_memory_bytes", "gauge",
     "GPU memory of a compute process (the largest per GPU)", f_proc, GD_GPU_MAX_PROCS},
};

static int collect(void *ud, struct gd_buf *out)
{
    (void)ud;
    int rc = 0;
    pthread_mutex_lock(&G.mu);
    for (size_t f = 0; f < sizeof families / sizeof families[0] && !rc; f++) {
        int any = 0;
        for (unsigned i = 0; i < G.n_snap && !rc; i++)
            for (size_t k = 0; k < families[f].per_device && !rc; k++) {
                double v;
                char extra[2 * GD_GPU_NAME + 64] = "";
                if (!families[f].fn(&G.snap[i], k, &v, extra, sizeof extra))
                    continue;
                if (!any++)
                    rc = gd_buf_printf(out, "# HELP %s %s\n# TYPE %s %s\n", families[f].name,
                                       families[f].help, families[f].name, families[f].type);
                rc = rc ? rc
                        : gd_buf_printf(out, "%s{gpu=\"%u\"%s%s} ", families[f].name, i,
                                        extra[0] ? "," : "", extra);
                rc = rc ? rc : gd_metrics_put_double(out, v);
                rc = rc ? rc : gd_buf_puts(out, "\n");
            }
    }
    if (!rc && G.n_snap)
        rc = gd_buf_printf(out,
                           "# HELP girder_gpu_sample_duration_seconds Time the last pass over "
                           "the GPUs took in NVML\n# TYPE girder_gpu_sample_duration_seconds "
                           "gauge\ngirder_gpu_sample_duration_seconds %.9f\n",
                           G.sample_s);
    pthread_mutex_unlock(&G.mu);
    return rc;
}

int gd_gpu_start(uint64_t interval_ms)
{
    const char *path = getenv("GIRDER_NVML_LIBRARY");
    if (!path || !*path)
        path = "libnvidia-ml.so.1";
    int nvml_error;
    if (gd_gpu_nvml_open(path, &nvml_error) != 0) {
        if (nvml_error)
            gd_logf(GD_LOG_WARN, "msg=\"NVML did not initialise, no GPU metrics\" nvml_error=%d",
                    nvml_error);
        else
            gd_logf(GD_LOG_INFO, "msg=\"no NVML library, no GPU metrics\" library=%s", path);
        return 0;
    }
    struct gd_metrics *m = gd_metrics_default();
    if (!m || (!G.collector_added && gd_metrics_add_collector(m, collect, NULL) != 0)) {
        gd_gpu_nvml_close();
        return GD_ENOMEM;
    }
    G.collector_added = 1;
    G.interval_ms = interval_ms ? interval_ms : 1;
    G.stop = 0;
    if (pthread_create(&G.thread, NULL, sampler_main, NULL) != 0) {
        gd_gpu_nvml_close();
        return GD_EIO;
    }
    G.running = 1;
    gd_logf(GD_LOG_INFO, "msg=\"GPU metrics from NVML\" gpus=%u interval_ms=%llu",
            gd_gpu_nvml_count(), (unsigned long long)G.interval_ms);
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
    pthread_mutex_lock(&G.mu);
    G.n_snap = 0; /* a scrape after the stop shows no stale readings */
    pthread_mutex_unlock(&G.mu);
    G.running = 0;
    gd_gpu_nvml_close();
}
