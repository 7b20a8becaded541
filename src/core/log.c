#include "core/log.h"
#include "girder/error.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static const char *const level_names[] = {"debug", "info", "warn", "error", "off"};
static _Atomic int min_level = GD_LOG_INFO;
static gd_log_sink_fn sink_fn;
static void *sink_ud;

static void default_sink(void *ud, enum gd_log_level level, const char *line, size_t len)
{
    (void)ud;
    char out[4096];
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    int n = (int)strftime(out, sizeof out, "ts=%Y-%m-%dT%H:%M:%S", &tm);
    n += snprintf(out + n, sizeof out - (size_t)n, ".%03ldZ level=%s %.*s\n",
                  ts.tv_nsec / 1000000, level_names[level], (int)len, line);
    if (n > (int)sizeof out)
        n = (int)sizeof out, out[n - 1] = '\n';
    ssize_t w = write(STDERR_FILENO, out, (size_t)n);
    (void)w; /* nothing sensible to do when stderr is gone */
}

void gd_log_set_sink(gd_log_sink_fn fn, void *ud)
{
    sink_fn = fn;
    sink_ud = ud;
}

void gd_log_set_level(enum gd_log_level min)
{
    atomic_store(&min_level, (int)min);
}

enum gd_log_level gd_log_get_level(void)
{
    return (enum gd_log_level)atomic_load(&min_level);
}

int gd_log_parse_level(const char *s, enum gd_log_level *out)
{
    for (int i = 0; i <= GD_LOG_OFF; i++) {
        if (strcmp(s, level_names[i]) == 0) {
            *out = (enum gd_log_level)i;
            return 0;
        }
    }
    return GD_EINVAL;
}

void gd_logf(enum gd_log_level level, const char *fmt, ...)
{
    if ((int)level < atomic_load(&min_level) || level >= GD_LOG_OFF)
        return;
    char line[3072];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if ((size_t)n >= sizeof line)
        n = (int)sizeof line - 1; /* truncated */
    (sink_fn ? sink_fn : default_sink)(sink_ud, level, line, (size_t)n);
}
