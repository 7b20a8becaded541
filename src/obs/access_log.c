/* Access log writer. A line is formatted into a private buffer and handed to the kernel with
 * one write(2): with O_APPEND files and with pipes below PIPE_BUF that is what keeps lines
 * from different loop threads whole. The descriptor sits behind a rwlock taken shared by
 * writers, exclusively only by reopen, so a SIGHUP reopen never closes a descriptor under a
 * writer's feet. */
#include "obs/access_log.h"
#include "core/alloc.h"
#include "core/clock.h"
#include "core/json_write.h"
#include "girder/error.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#define MAX_LINE (16u << 10)

struct gd_access_log {
    char *path;
    enum gd_access_log_format format;
    bool is_stdout;
    int fd;
    pthread_rwlock_t lock;
};

static int open_path(const char *path)
{
    return open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
}

int gd_access_log_open(const char *path, enum gd_access_log_format format,
                       struct gd_access_log **out)
{
    *out = NULL;
    struct gd_access_log *l = gd_calloc(1, sizeof *l);
    if (!l || !(l->path = gd_strdup(path))) {
        gd_free(l);
        return GD_ENOMEM;
    }
    l->format = format;
    l->is_stdout = strcmp(path, "-") == 0;
    l->fd = l->is_stdout ? STDOUT_FILENO : open_path(path);
    if (l->fd < 0) {
        int e = errno;
        gd_free(l->path);
        gd_free(l);
        errno = e;
        return GD_EIO;
    }
    pthread_rwlock_init(&l->lock, NULL);
    *out = l;
    return 0;
}

int gd_access_log_reopen(struct gd_access_log *l)
{
    if (l->is_stdout)
        return 0;
    int fd = open_path(l->path);
    if (fd < 0)
        return GD_EIO;
    pthread_rwlock_wrlock(&l->lock);
    int old = l->fd;
    l->fd = fd;
    pthread_rwlock_unlock(&l->lock);
    close(old);
    return 0;
}

void gd_access_log_close(struct gd_access_log *l)
{
    if (!l)
        return;
    if (!l->is_stdout)
        close(l->fd);
    pthread_rwlock_destroy(&l->lock);
    gd_free(l->path);
    gd_free(l);
}

/* ---- formatting ----------------------------------------------------------------------------- */

int gd_access_log_put_time(struct gd_buf *out, uint64_t wall_ns)
{
    /* gmtime_r is the expensive part: remember the last second formatted, per thread. */
    static _Thread_local time_t last_sec = -1;
    static _Thread_local char last[32];
    time_t sec = (time_t)(wall_ns / 1000000000u);
    if (sec != last_sec) {
        struct tm tm;
        gmtime_r(&sec, &tm);
        if (strftime(last, sizeof last, "%Y-%m-%dT%H:%M:%S.", &tm) == 0)
            return GD_EINVAL;
        last_sec = sec;
    }
    unsigned ms = (unsigned)(wall_ns / 1000000u % 1000u);
    char tail[5] = {(char)('0' + ms / 100), (char)('0' + ms / 10 % 10), (char)('0' + ms % 10), 'Z'};
    int rc = gd_buf_puts(out, last);
    return rc ? rc : gd_buf_append(out, tail, 4);
}

/* Decimal digits without printf (the formatter is on every request's path). */
static int put_u64(struct gd_buf *b, uint64_t v)
{
    char tmp[24];
    size_t i = sizeof tmp;
    do
        tmp[--i] = (char)('0' + v % 10);
    while ((v /= 10) != 0);
    return gd_buf_append(b, tmp + i, sizeof tmp - i);
}

static int put_i64(struct gd_buf *b, int64_t v)
{
    if (v >= 0)
        return put_u64(b, (uint64_t)v);
    int rc = gd_buf_putc(b, '-');
    return rc ? rc : put_u64(b, (uint64_t)0 - (uint64_t)v);
}

/* Milliseconds with exactly three decimals (microsecond resolution), "12.346". */
static int put_ms(struct gd_buf *b, double ms)
{
    uint64_t us = ms > 0 && ms < 1e15 ? (uint64_t)(ms * 1000.0 + 0.5) : 0;
    int rc = put_u64(b, us / 1000);
    unsigned f = (unsigned)(us % 1000);
    char frac[4] = {'.', (char)('0' + f / 100), (char)('0' + f / 10 % 10), (char)('0' + f % 10)};
    return rc ? rc : gd_buf_append(b, frac, 4);
}

/* Keys that could name a credential never reach the log, whatever a handler passes. */
static bool key_allowed(const char *k)
{
    static const char *const core[] = {"time",   "request_id", "method",   "route",
                                       "path",   "status",     "bytes_in", "bytes_out",
                                       "duration_ms", "remote", NULL};
    static const char *const banned[] = {"authorization", "cookie", "api_key", "apikey",
                                         "api-key", "password", "secret", NULL};
    if (!k || !*k || strlen(k) > 64)
        return false;
    for (const char *p = k; *p; p++)
        if (!(*p == '_' || *p == '.' || (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
              (p != k && *p >= '0' && *p <= '9')))
            return false;
    for (int i = 0; core[i]; i++)
        if (strcmp(k, core[i]) == 0)
            return false;
    for (int i = 0; banned[i]; i++)
        if (strcasestr(k, banned[i]))
            return false;
    return true;
}

/* The path without its query string. */
static struct gd_access_str clean_path(struct gd_access_str p)
{
    const char *q = p.p ? memchr(p.p, '?', p.n) : NULL;
    if (q)
        p.n = (size_t)(q - p.p);
    return p;
}

/* logfmt value: bare when it is plain, else a JSON-style quoted string. */
static int logfmt_str(struct gd_buf *b, struct gd_access_str s)
{
    bool plain = s.n > 0;
    for (size_t i = 0; i < s.n && plain; i++) {
        unsigned char c = (unsigned char)s.p[i];
        plain = c > 0x20 && c < 0x7f && c != '=' && c != '"' && c != '\\';
    }
    return plain ? gd_buf_append(b, s.p, s.n) : gd_json_put_str(b, s.p, s.n);
}

struct line {
    struct gd_buf *b;
    bool json, first;
};

/* Keys are constants or identifiers checked by key_allowed: no escaping needed. Written
 * with one append: ,"key": (JSON) or " key=" (logfmt). */
static int put_key(struct line *l, const char *key)
{
    char tmp[80];
    size_t n = strlen(key), o = 0;
    if (n > 64)
        return GD_EINVAL;
    if (!l->first)
        tmp[o++] = l->json ? ',' : ' ';
    if (l->json)
        tmp[o++] = '"';
    memcpy(tmp + o, key, n);
    o += n;
    if (l->json)
        tmp[o++] = '"';
    tmp[o++] = l->json ? ':' : '=';
    l->first = false;
    return gd_buf_append(l->b, tmp, o);
}

static int put_str(struct line *l, const char *key, struct gd_access_str s)
{
    if (!s.p)
        return 0;
    int rc = put_key(l, key);
    if (rc)
        return rc;
    return l->json ? gd_json_put_str(l->b, s.p, s.n) : logfmt_str(l->b, s);
}

static int put_extra(struct line *l, const struct gd_access_field *f)
{
    if (!key_allowed(f->key) || (f->type == GD_ACCESS_FIELD_STR && !f->v.s.p))
        return 0;
    if (f->type == GD_ACCESS_FIELD_STR)
        return put_str(l, f->key, f->v.s);
    int rc = put_key(l, f->key);
    if (rc)
        return rc;
    if (f->type == GD_ACCESS_FIELD_I64)
        return put_i64(l->b, f->v.i);
    return gd_json_put_f64(l->b, f->v.f);
}

static int format_line(enum gd_access_log_format fmt, const struct gd_access_record *r,
                       struct gd_buf *b, bool with_extra)
{
    struct line l = {b, fmt == GD_ACCESS_LOG_JSON, true};
    int rc = l.json ? gd_buf_putc(b, '{') : 0;
    if (rc == 0)
        rc = put_key(&l, "time");
    if (rc == 0 && l.json)
        rc = gd_buf_putc(b, '"');
    if (rc == 0)
        rc = gd_access_log_put_time(b, r->time_ns ? r->time_ns : gd_wall_ns());
    if (rc == 0 && l.json)
        rc = gd_buf_putc(b, '"');
    if (rc == 0)
        rc = put_str(&l, "request_id", r->request_id);
    if (rc == 0)
        rc = put_str(&l, "method", r->method);
    if (rc == 0)
        rc = put_str(&l, "route", r->route);
    if (rc == 0)
        rc = put_str(&l, "path", clean_path(r->path));
    if (rc == 0)
        rc = put_key(&l, "status");
    if (rc == 0)
        rc = put_i64(b, r->status);
    if (rc == 0)
        rc = put_key(&l, "bytes_in");
    if (rc == 0)
        rc = put_u64(b, r->bytes_in);
    if (rc == 0)
        rc = put_key(&l, "bytes_out");
    if (rc == 0)
        rc = put_u64(b, r->bytes_out);
    if (rc == 0)
        rc = put_key(&l, "duration_ms");
    if (rc == 0)
        rc = put_ms(b, r->duration_ms);
    if (rc == 0)
        rc = put_str(&l, "remote", r->remote);
    for (size_t i = 0; with_extra && rc == 0 && i < r->n_extra; i++)
        rc = put_extra(&l, &r->extra[i]);
    if (rc == 0 && l.json)
        rc = gd_buf_putc(b, '}');
    return rc ? rc : gd_buf_putc(b, '\n');
}

int gd_access_log_format_line(enum gd_access_log_format format, const struct gd_access_record *rec,
                              struct gd_buf *out)
{
    size_t start = out->len;
    int rc = format_line(format, rec, out, true);
    if (rc == GD_ELIMIT) { /* too long: drop the handler's extra fields, keep the core */
        out->len = start;
        if (out->data)
            out->data[start] = '\0';
        rc = format_line(format, rec, out, false);
    }
    return rc;
}

int gd_access_log_write(struct gd_access_log *l, const struct gd_access_record *rec)
{
    struct gd_buf b;
    gd_buf_init(&b, MAX_LINE);
    int rc = gd_buf_reserve(&b, 512);
    if (rc == 0)
        rc = gd_access_log_format_line(l->format, rec, &b);
    if (rc) {
        gd_buf_free(&b);
        return rc == GD_ELIMIT ? GD_ENOMEM : rc;
    }
    pthread_rwlock_rdlock(&l->lock);
    ssize_t w;
    do
        w = write(l->fd, b.data, b.len);
    while (w < 0 && errno == EINTR);
    pthread_rwlock_unlock(&l->lock);
    rc = w == (ssize_t)b.len ? 0 : GD_EIO;
    gd_buf_free(&b);
    return rc;
}
