/* The server's handler contract, in process: a streaming producer is paused with
 * GD_EAGAIN and resumed by the drain callback, a client disconnect reaches on_close, an
 * async answer works, on_close is not called after a complete response, and a pipelined
 * burst is answered in order. The server runs on its own loop thread; the test is a plain
 * blocking client. */
#include "core/alloc.h"
#include "core/arena.h"
#include "girder/error.h"
#include "net/http.h"

#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

static struct gd_loop *loop;
static struct gd_http_server *srv;
static pthread_t thread;
static int port;

enum { CHUNK = 65536, TOTAL_CHUNKS = 256 };
static atomic_int produced, eagains, drains, closes, finished;

static void *run_loop(void *p)
{
    (void)p;
    gd_loop_run(loop);
    return NULL;
}

/* ---- handlers ---- */
static char chunk[CHUNK];

static void pump(struct gd_http_exchange *x)
{
    while (atomic_load(&produced) < TOTAL_CHUNKS) {
        int rc = gd_http_stream_write(x, chunk, sizeof chunk);
        if (rc == GD_ECLOSED)
            return;
        atomic_fetch_add(&produced, 1);
        if (rc == GD_EAGAIN) {
            atomic_fetch_add(&eagains, 1);
            return;
        }
    }
    gd_http_stream_end(x);
    atomic_fetch_add(&finished, 1);
}

static void on_drain(struct gd_http_exchange *x, void *ud)
{
    (void)ud;
    atomic_fetch_add(&drains, 1);
    pump(x);
}

static void on_close(struct gd_http_exchange *x, void *ud)
{
    (void)x, (void)ud;
    atomic_fetch_add(&closes, 1);
}

static void h_stream(struct gd_http_exchange *x, void *ud)
{
    (void)ud;
    gd_http_on_close(x, on_close, NULL);
    gd_http_stream_on_drain(x, on_drain, NULL);
    cr_assert_eq(gd_http_stream_begin(x, 200, "application/octet-stream"), 0);
    cr_assert_eq(gd_http_stream_begin(x, 200, "text/plain"), GD_ESTATE);
    pump(x);
}

static void h_hang(struct gd_http_exchange *x, void *ud)
{
    (void)ud;
    gd_http_on_close(x, on_close, NULL);
}

struct late {
    struct gd_timer t;
    struct gd_http_exchange *x;
};

static void late_fire(struct gd_loop *l, struct gd_timer *t, void *ud)
{
    (void)l, (void)t;
    struct late *lt = ud;
    gd_http_set_header(lt->x, "X-Late", "yes");
    gd_http_respond(lt->x, 200, "text/plain", "late\n", 5);
}

static void h_late(struct gd_http_exchange *x, void *ud)
{
    (void)ud;
    struct late *lt = gd_arena_alloc(gd_http_exchange_arena(x), sizeof *lt);
    if (!lt) {
        gd_http_respond_json_error(x, 500, "server_error", NULL, "out of memory");
        return;
    }
    lt->x = x;
    gd_http_on_close(x, on_close, NULL);
    gd_timer_init(&lt->t, late_fire, lt);
    if (gd_timer_start(gd_http_exchange_loop(x), &lt->t, 50) != 0)
        gd_http_respond_json_error(x, 500, "server_error", NULL, "no timer");
}

/* Header values must be RFC 9110 field values: no control byte but HTAB. */
static void h_headers(struct gd_http_exchange *x, void *ud)
{
    (void)ud;
    cr_assert_eq(gd_http_set_header(x, "X-Ok", "a\tb obs\xe9"), 0);
    static const char *const bad[] = {"cr\rx", "lf\nx", "soh\x01x", "del\x7fx"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        cr_assert_eq(gd_http_set_header(x, "X-Bad", bad[i]), GD_EINVAL, "value %zu", i);
    cr_assert_eq(gd_http_set_header(x, "X Bad", "v"), GD_EINVAL);
    cr_assert_eq(gd_http_set_header(x, "Content-Length", "1"), GD_EINVAL);
    cr_assert_eq(gd_http_set_header(x, "DATE", "x"), GD_EINVAL);
    cr_assert_eq(gd_http_set_header(x, "", "v"), GD_EINVAL);
    cr_assert_eq(gd_http_set_header(x, "Date-Extra", ""), 0); /* a longer name is not Date */
    cr_assert_eq(gd_http_set_header(x, "X-Big", "\xff\x80"), 0); /* obs-text */
    gd_http_respond(x, 200, "text/plain", "ok\n", 3);
}

static void h_path(struct gd_http_exchange *x, void *ud)
{
    (void)ud;
    const struct gd_http_request *r = gd_http_exchange_request(x);
    gd_http_respond(x, 200, "text/plain", r->path.p, r->path.n);
}

/* ---- fixture ---- */
static void setup(void)
{
    memset(chunk, 'z', sizeof chunk);
    atomic_store(&produced, 0);
    atomic_store(&eagains, 0);
    atomic_store(&drains, 0);
    atomic_store(&closes, 0);
    atomic_store(&finished, 0);
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    cr_assert_eq(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    cr_assert_eq(listen(fd, 16), 0);
    socklen_t sl = sizeof a;
    getsockname(fd, (struct sockaddr *)&a, &sl);
    port = ntohs(a.sin_port);
    struct gd_http_router *r;
    cr_assert_eq(gd_http_router_new(&r), 0);
    gd_http_router_add(r, "GET", "/stream", GD_HTTP_MATCH_EXACT, h_stream, NULL);
    gd_http_router_add(r, "GET", "/hang", GD_HTTP_MATCH_EXACT, h_hang, NULL);
    gd_http_router_add(r, "GET", "/late", GD_HTTP_MATCH_EXACT, h_late, NULL);
    gd_http_router_add(r, "GET", "/p/", GD_HTTP_MATCH_PREFIX, h_path, NULL);
    gd_http_router_add(r, "GET", "/headers", GD_HTTP_MATCH_EXACT, h_headers, NULL);
    struct gd_http_settings s;
    memset(&s, 0, sizeof s);
    s.out_high_water = 128 * 1024;
    struct gd_http_site *site;
    cr_assert_eq(gd_http_site_new(&s, r, NULL, NULL, &site), 0);
    cr_assert_eq(gd_loop_new(&loop), 0);
    cr_assert_eq(gd_http_server_new(loop, fd, site, &srv), 0);
    gd_http_site_unref(site);
    pthread_create(&thread, NULL, run_loop, NULL);
}

static void teardown(void)
{
    gd_loop_stop(loop);
    pthread_join(thread, NULL);
    gd_http_server_free(srv);
    gd_loop_free(loop);
}

static int client(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    int small = 16384;
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_port = htons((uint16_t)port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    cr_assert_eq(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
    return fd;
}

static void send_str(int fd, const char *s)
{
    cr_assert_eq(write(fd, s, strlen(s)), (ssize_t)strlen(s));
}

static size_t read_all(int fd, char *buf, size_t cap)
{
    size_t n = 0;
    ssize_t r;
    while ((r = read(fd, buf + n, cap - n)) > 0)
        n += (size_t)r;
    return n;
}

static void wait_for(atomic_int *v, int at_least)
{
    for (int i = 0; i < 300 && atomic_load(v) < at_least; i++)
        usleep(10000);
}

TestSuite(server, .init = setup, .fini = teardown, .timeout = 30);

Test(server, slow_reader_pauses_the_producer)
{
    int fd = client();
    send_str(fd, "GET /stream HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
    usleep(300000); /* not reading */
    cr_assert_geq(atomic_load(&eagains), 1);
    cr_assert_lt(atomic_load(&produced), TOTAL_CHUNKS / 2, "producer never paused: %d",
                 atomic_load(&produced));
    static char buf[TOTAL_CHUNKS * (CHUNK + 16) + 4096];
    size_t n = read_all(fd, buf, sizeof buf);
    close(fd);
    cr_assert_eq(atomic_load(&finished), 1);
    cr_assert_geq(atomic_load(&drains), 1);
    cr_assert_eq(atomic_load(&closes), 0);
    cr_assert(strstr(buf, "Transfer-Encoding: chunked\r\n") != NULL);
    const char *end = "\r\n0\r\n\r\n";
    cr_assert(n > strlen(end) && memcmp(buf + n - strlen(end), end, strlen(end)) == 0);
    size_t zs = 0;
    for (size_t i = 0; i < n; i++)
        zs += buf[i] == 'z';
    cr_assert_eq(zs, (size_t)TOTAL_CHUNKS * CHUNK);
}

Test(server, disconnect_reaches_on_close)
{
    int fd = client();
    send_str(fd, "GET /hang HTTP/1.1\r\nHost: t\r\n\r\n");
    usleep(100000);
    cr_assert_eq(atomic_load(&closes), 0);
    close(fd);
    wait_for(&closes, 1);
    cr_assert_eq(atomic_load(&closes), 1);
}

Test(server, stream_disconnect_reaches_on_close)
{
    int fd = client();
    send_str(fd, "GET /stream HTTP/1.1\r\nHost: t\r\n\r\n");
    usleep(100000);
    close(fd);
    wait_for(&closes, 1);
    cr_assert_eq(atomic_load(&closes), 1);
    cr_assert_eq(atomic_load(&finished), 0);
}

Test(server, async_answer_and_no_on_close_after_it)
{
    int fd = client();
    send_str(fd, "GET /late HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
    char buf[1024] = {0};
    size_t n = read_all(fd, buf, sizeof buf - 1);
    close(fd);
    cr_assert(n > 0);
    cr_assert(strncmp(buf, "HTTP/1.1 200 OK\r\n", 17) == 0, "%s", buf);
    cr_assert(strstr(buf, "X-Late: yes\r\n") && strstr(buf, "\r\n\r\nlate\n"));
    usleep(50000);
    cr_assert_eq(atomic_load(&closes), 0);
}

Test(server, pipelined_burst_in_order)
{
    int fd = client();
    char req[4096] = "";
    for (int i = 0; i < 20; i++) {
        char one[96];
        snprintf(one, sizeof one, "GET /p/%02d HTTP/1.1\r\nHost: t\r\n%s\r\n", i,
                 i == 19 ? "Connection: close\r\n" : "");
        strcat(req, one);
    }
    send_str(fd, req);
    static char buf[65536];
    size_t n = read_all(fd, buf, sizeof buf - 1);
    buf[n] = '\0';
    close(fd);
    const char *p = buf;
    for (int i = 0; i < 20; i++) {
        char want[16];
        snprintf(want, sizeof want, "\r\n\r\n/p/%02d", i);
        const char *at = strstr(p, want);
        cr_assert_not_null(at, "response %d missing or out of order", i);
        p = at + 1;
    }
}

/* Allocation-failure torture: the n-th allocation after the request is sent fails, for
 * every n along the request path (exchange, arena, output buffer, read buffer, timers...).
 * The client must get either a complete response or a closed connection, never a hang, and
 * the server must keep serving afterwards (ASan builds also check for leaks and bad frees). */
Test(server, allocation_failures_are_contained)
{
    for (int n = 1; n <= 24; n++) {
        int fd = client();
        struct timeval tv = {.tv_sec = 3};
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        gd_alloc_fail_after((uint64_t)n);
        send_str(fd, "GET /late HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
        char buf[2048] = {0};
        size_t got = read_all(fd, buf, sizeof buf - 1);
        gd_alloc_fail_after(0);
        close(fd);
        cr_assert(got == 0 || strncmp(buf, "HTTP/1.1 ", 9) == 0, "n=%d: %s", n, buf);
        if (got)
            cr_assert_not_null(strstr(buf, "\r\n\r\n"), "n=%d: truncated head", n);
    }
    int fd = client();
    send_str(fd, "GET /late HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
    char buf[1024] = {0};
    read_all(fd, buf, sizeof buf - 1);
    close(fd);
    cr_assert(strncmp(buf, "HTTP/1.1 200 OK\r\n", 17) == 0, "%s", buf);
}

Test(server, header_values_must_be_field_values)
{
    int fd = client();
    send_str(fd, "GET /headers HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    char buf[4096];
    size_t n = read_all(fd, buf, sizeof buf - 1);
    buf[n] = '\0';
    close(fd);
    cr_assert(strstr(buf, "HTTP/1.1 200 "), "%s", buf);
    cr_assert(strstr(buf, "\r\nX-Ok: a\tb obs\xe9\r\n"), "%s", buf);
    cr_assert(strstr(buf, "\r\nDate-Extra: \r\nX-Big: \xff\x80\r\n"), "%s", buf);
    cr_assert_null(strstr(buf, "X-Bad"), "%s", buf);
}
