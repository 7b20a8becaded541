/* Access log: line shape (JSON and logfmt), query strings cut, credential-like extra keys
 * dropped, oversize extras, one whole line per write under concurrency, reopen. */
#include "girder/error.h"
#include "obs/access_log.h"

#include <criterion/criterion.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* 2026-11-23T01:02:03.456Z */
#define T0 (1795395723ull * 1000000000ull + 456000000ull)

static struct gd_access_record sample(void)
{
    struct gd_access_record r;
    memset(&r, 0, sizeof r);
    r.time_ns = T0;
    r.request_id = GD_ACCESS_STR("req-1");
    r.method = GD_ACCESS_STR("POST");
    r.route = GD_ACCESS_STR("/v1/chat/completions");
    r.path = GD_ACCESS_STR("/v1/chat/completions?api_key=sk-123");
    r.status = 200;
    r.bytes_in = 321;
    r.bytes_out = 1234;
    r.duration_ms = 12.3456;
    r.remote = GD_ACCESS_STR("127.0.0.1:5555");
    return r;
}

static char *line(enum gd_access_log_format f, const struct gd_access_record *r)
{
    struct gd_buf b;
    gd_buf_init(&b, 1 << 20);
    cr_assert_eq(gd_access_log_format_line(f, r, &b), 0);
    return b.data;
}

Test(access_log, json_shape)
{
    struct gd_access_record r = sample();
    struct gd_access_field extra[] = {
        {"model", GD_ACCESS_FIELD_STR, {.s = GD_ACCESS_STR("gpt \"4\"")}},
        {"prompt_tokens", GD_ACCESS_FIELD_I64, {.i = 17}},
        {"upstream_ms", GD_ACCESS_FIELD_F64, {.f = 1.5}},
        {"Authorization", GD_ACCESS_FIELD_STR, {.s = GD_ACCESS_STR("Bearer sk-1")}},
        {"x_api_key", GD_ACCESS_FIELD_STR, {.s = GD_ACCESS_STR("sk-2")}},
        {"status", GD_ACCESS_FIELD_I64, {.i = 1}},
        {"bad key", GD_ACCESS_FIELD_I64, {.i = 1}},
    };
    r.extra = extra;
    r.n_extra = sizeof extra / sizeof extra[0];
    char *s = line(GD_ACCESS_LOG_JSON, &r);
    cr_assert_str_eq(s, "{\"time\":\"2026-11-23T01:02:03.456Z\",\"request_id\":\"req-1\","
                        "\"method\":\"POST\",\"route\":\"/v1/chat/completions\","
                        "\"path\":\"/v1/chat/completions\",\"status\":200,\"bytes_in\":321,"
                        "\"bytes_out\":1234,\"duration_ms\":12.346,\"remote\":\"127.0.0.1:5555\","
                        "\"model\":\"gpt \\\"4\\\"\",\"prompt_tokens\":17,\"upstream_ms\":1.5}\n");
    cr_assert_null(strstr(s, "sk-"));
    free(s);
}

Test(access_log, logfmt_shape_and_absent_fields)
{
    struct gd_access_record r = sample();
    r.request_id = (struct gd_access_str){NULL, 0};
    r.route = GD_ACCESS_STR("");
    r.path = GD_ACCESS_STR("/a b=c");
    char *s = line(GD_ACCESS_LOG_LOGFMT, &r);
    cr_assert_str_eq(s, "time=2026-11-23T01:02:03.456Z method=POST route=\"\" path=\"/a b=c\" "
                        "status=200 bytes_in=321 bytes_out=1234 duration_ms=12.346 "
                        "remote=127.0.0.1:5555\n");
    free(s);
}

Test(access_log, oversize_extras_dropped_core_kept)
{
    struct gd_access_record r = sample();
    char *big = malloc(20000);
    memset(big, 'a', 19999);
    big[19999] = '\0';
    struct gd_access_field extra[] = {{"blob", GD_ACCESS_FIELD_STR, {.s = GD_ACCESS_STR(big)}}};
    r.extra = extra;
    r.n_extra = 1;
    struct gd_buf b;
    gd_buf_init(&b, 16 << 10);
    cr_assert_eq(gd_access_log_format_line(GD_ACCESS_LOG_JSON, &r, &b), 0);
    cr_assert_null(strstr(b.data, "blob"));
    cr_assert_not_null(strstr(b.data, "\"status\":200"));
    gd_buf_free(&b);
    free(big);
}

struct writer_arg {
    struct gd_access_log *log;
    int id;
};

static void *writer(void *p)
{
    struct writer_arg *a = p;
    struct gd_access_record r = sample();
    char id[32];
    snprintf(id, sizeof id, "thread-%d", a->id);
    r.request_id = GD_ACCESS_STR(id);
    for (int i = 0; i < 2000; i++) {
        r.status = i;
        cr_assert_eq(gd_access_log_write(a->log, &r), 0);
        if (a->id == 0 && i % 500 == 0)
            cr_assert_eq(gd_access_log_reopen(a->log), 0);
    }
    return NULL;
}

Test(access_log, concurrent_writes_whole_lines_and_reopen)
{
    char path[] = "/tmp/gd_access_test_XXXXXX";
    int fd = mkstemp(path);
    cr_assert_geq(fd, 0);
    close(fd);
    struct gd_access_log *log;
    cr_assert_eq(gd_access_log_open(path, GD_ACCESS_LOG_JSON, &log), 0);
    pthread_t t[4];
    struct writer_arg a[4];
    for (int i = 0; i < 4; i++) {
        a[i] = (struct writer_arg){log, i};
        pthread_create(&t[i], NULL, writer, &a[i]);
    }
    for (int i = 0; i < 4; i++)
        pthread_join(t[i], NULL);
    gd_access_log_close(log);
    FILE *f = fopen(path, "r");
    char buf[4096];
    int lines = 0;
    while (fgets(buf, sizeof buf, f)) {
        size_t n = strlen(buf);
        cr_assert(n > 2 && buf[0] == '{' && buf[n - 2] == '}' && buf[n - 1] == '\n', "torn: %s",
                  buf);
        lines++;
    }
    fclose(f);
    cr_assert_eq(lines, 8000);
    /* reopen after a rename (logrotate) writes to the new file */
    char moved[64];
    snprintf(moved, sizeof moved, "%s.1", path);
    cr_assert_eq(gd_access_log_open(path, GD_ACCESS_LOG_LOGFMT, &log), 0);
    cr_assert_eq(rename(path, moved), 0);
    cr_assert_eq(gd_access_log_reopen(log), 0);
    struct gd_access_record r = sample();
    cr_assert_eq(gd_access_log_write(log, &r), 0);
    gd_access_log_close(log);
    f = fopen(path, "r");
    cr_assert_not_null(f);
    cr_assert_not_null(fgets(buf, sizeof buf, f));
    cr_assert(strncmp(buf, "time=", 5) == 0);
    fclose(f);
    unlink(path);
    unlink(moved);
}

Test(access_log, open_failure)
{
    struct gd_access_log *log = (void *)1;
    cr_assert_eq(gd_access_log_open("/nonexistent-dir/x.log", GD_ACCESS_LOG_JSON, &log), GD_EIO);
    cr_assert_null(log);
}
