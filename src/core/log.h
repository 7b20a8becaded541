/* Logging for library code: one key=value line per event, handed to a sink.
 * The default sink writes "ts=<RFC3339> level=<lvl> <line>\n" to stderr with a single
 * write(2), so lines from several threads never interleave. Thread-safe.
 * Callers must never log secrets (keys, Authorization headers, tokens). */
#ifndef GD_CORE_LOG_H
#define GD_CORE_LOG_H

#include <stddef.h>

enum gd_log_level { GD_LOG_DEBUG = 0, GD_LOG_INFO, GD_LOG_WARN, GD_LOG_ERROR, GD_LOG_OFF };

typedef void (*gd_log_sink_fn)(void *ud, enum gd_log_level level, const char *line, size_t len);

/* Replaces the sink (NULL restores the default). Call before threads start. */
void gd_log_set_sink(gd_log_sink_fn fn, void *ud);
void gd_log_set_level(enum gd_log_level min);
enum gd_log_level gd_log_get_level(void);
/* Parses "debug|info|warn|error|off"; returns 0 or GD_EINVAL. */
int gd_log_parse_level(const char *s, enum gd_log_level *out);

/* fmt is a sequence of key=value pairs, e.g. gd_logf(GD_LOG_INFO, "msg=listening addr=%s", a).
 * Values with spaces should be quoted by the caller (see gd_log_quote). */
void gd_logf(enum gd_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define GD_LOG_DEBUGF(...)                                                                         \
    do {                                                                                           \
        if (gd_log_get_level() <= GD_LOG_DEBUG)                                                    \
            gd_logf(GD_LOG_DEBUG, __VA_ARGS__);                                                    \
    } while (0)

#endif
