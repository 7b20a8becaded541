/* Access log: one structured line per finished request, as JSON lines (default) or logfmt,
 * to stdout or to a file opened with O_APPEND.
 *
 * Each line is written with a single write(2), so lines from several loop threads never
 * interleave in a file (O_APPEND); on a pipe that holds for lines up to PIPE_BUF (4096 bytes),
 * which covers ordinary lines (a few hundred bytes). A failed or short write (a full
 * non-blocking pipe) drops that line and returns GD_EIO rather than block a loop thread. gd_access_log_reopen (on SIGHUP, after logrotate moved the file) swaps the file
 * descriptor atomically with respect to writers.
 *
 * What is logged is exactly the fields of struct gd_access_record: request headers are never
 * taken, so Authorization, cookies and API keys cannot reach the log; the path is cut at the
 * first '?' because query strings can carry keys; extra fields whose key looks like a
 * credential (authorization, cookie, api_key/apikey, password, secret) are dropped.
 *
 * JSON line shape (keys in this order; absent optional fields left out):
 *   {"time":"2026-11-23T01:02:03.456Z","request_id":"...","method":"GET","route":"/healthz",
 *    "path":"/healthz","status":200,"bytes_in":0,"bytes_out":15,"duration_ms":0.042,
 *    "remote":"127.0.0.1:51234", <extra fields>}
 * logfmt: the same keys as key=value, values quoted when they hold spaces, '=', '"' or
 * control characters. */
#ifndef GD_OBS_ACCESS_LOG_H
#define GD_OBS_ACCESS_LOG_H

#include "core/buf.h"
#include "core/config.h" /* enum gd_access_log_format */

#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* A byte slice (need not be NUL-terminated). p == NULL means "absent". */
struct gd_access_str {
    const char *p;
    size_t n;
};
/* A slice over a NUL-terminated string (NULL stays absent). */
static inline struct gd_access_str gd_access_str(const char *s)
{
    struct gd_access_str r = {s, s ? strlen(s) : 0};
    return r;
}
#define GD_ACCESS_STR(s) gd_access_str(s)

enum gd_access_field_type { GD_ACCESS_FIELD_STR, GD_ACCESS_FIELD_I64, GD_ACCESS_FIELD_F64 };

/* A handler-supplied field (model, deployment, tokens...). key must be a plain identifier. */
struct gd_access_field {
    const char *key;
    enum gd_access_field_type type;
    union {
        struct gd_access_str s;
        int64_t i;
        double f;
    } v;
};

struct gd_access_record {
    uint64_t time_ns;                /* wall clock (ns since epoch) of the request; 0 = now */
    struct gd_access_str request_id;
    struct gd_access_str method;
    struct gd_access_str route;      /* route pattern that matched ("-" style absent ok) */
    struct gd_access_str path;       /* request target; cut at '?' by the logger */
    int status;
    uint64_t bytes_in;               /* request bytes read (headers + body) */
    uint64_t bytes_out;              /* response bytes written */
    double duration_ms;
    struct gd_access_str remote;     /* "ip:port" */
    const struct gd_access_field *extra;
    size_t n_extra;
};

struct gd_access_log; /* opaque */

/* Opens a log writing to path ("-" = stdout, else a file created 0644 with O_APPEND).
 * Returns 0 and *out, GD_EIO (errno kept) or GD_ENOMEM. */
int gd_access_log_open(const char *path, enum gd_access_log_format format,
                       struct gd_access_log **out);
/* Re-opens the file at the same path (no-op for stdout). On failure the old descriptor is
 * kept and GD_EIO returned. Thread-safe with concurrent writes. */
int gd_access_log_reopen(struct gd_access_log *log);
/* Closes and frees; no write may race with it. NULL ok. */
void gd_access_log_close(struct gd_access_log *log);
/* Formats and writes one line. Thread-safe. Returns 0, GD_EIO (short or failed write) or
 * GD_ENOMEM. Lines longer than 16 KiB have their extra fields left out. */
int gd_access_log_write(struct gd_access_log *log, const struct gd_access_record *rec);
/* Appends the line (with its trailing '\n') for rec to out; what write() would log. */
int gd_access_log_format_line(enum gd_access_log_format format, const struct gd_access_record *rec,
                              struct gd_buf *out);
/* Appends "YYYY-MM-DDTHH:MM:SS.mmmZ" for wall-clock ns. */
int gd_access_log_put_time(struct gd_buf *out, uint64_t wall_ns);

#endif
