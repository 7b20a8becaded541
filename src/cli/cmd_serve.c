/* `girder serve`: loads the config, opens one SO_REUSEPORT listener per loop thread, runs
 * one event loop + HTTP server per thread, and handles signals on the main thread through
 * a self-pipe watched by the main thread's own loop:
 *   SIGTERM / SIGINT  stop accepting (/readyz -> 503), let in-flight requests finish up to
 *                     drain_timeout_ms, then exit 0 (a second signal exits at once)
 *   SIGHUP            re-read the config; if valid, build a new site (settings + routes)
 *                     and hand it to every loop; if invalid, keep the old one and log each
 *                     error with file:line:col. listen/threads changes need a restart.
 *
 * Modules add their routes in route_modules[] below: the one place to register a route
 * table (see docs/server.md). */
#include "cli/cli.h"
#include "cli/serve.h"
#include "core/alloc.h"
#include "core/buf.h"
#include "core/json_write.h"
#include "core/log.h"
#include "core/reload.h"
#include "gateway/gateway.h"
#include "girder/error.h"
#include "obs/access_log.h"
#include "obs/metrics.h"
#include "obs/remote_write.h"
#include "obs/gpu.h"
#include "obs/trace.h"
#include "serve/model_server.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

/* ---- the route registration point: one line per module ---- */
static const struct {
    const char *name;
    gd_serve_routes_fn fn;
} route_modules[] = {
    {"builtin", gd_serve_builtin_routes_register},
    {"gateway", gd_gw_routes_register}, /* /v1/chat/completions, ... (src/gateway) */
    {"serving", gd_ms_routes_register}, /* /v2/... Open Inference Protocol (src/serve) */
    {"gateway", gd_gw_routes_link},     /* aliases onto local models: after "serving" */
};

struct gd_serve_state gd_serve;

struct worker {
    int index;
    pthread_t thread;
    struct gd_loop *loop;
    struct gd_http_server *srv;
};

static struct {
    const char *config_path;
    const char *listen_arg;
    long threads_arg; /* -1: from config */
    struct gd_listen_addr addr;
    struct gd_config *cfg;
    struct gd_http_site *site;
    struct worker *workers;
    unsigned n_alloc;   /* workers[] entries */
    unsigned n_workers; /* with a loop and a server */
    unsigned n_started; /* with a running thread */
    struct gd_loop *main_loop;
    int sigfd;
    struct gd_io *sig_io;
    struct gd_timer drain_timer;
    unsigned drained;
    atomic_uint drain_started; /* loops whose server has entered drain mode */
    int drain_signal;
    unsigned drain_deadline_ms;
    unsigned reload_gen, reload_acks;
    struct reload_waiter *waiters; /* gd_reload_request callers, until their reload took */
} S;

static void usage(FILE *out)
{
    fprintf(out,
            "usage: girder serve [--config FILE] [--listen HOST:PORT] [--threads N]\n\n"
            "Runs the HTTP server (built-in routes /healthz, /readyz, /metrics, plus every\n"
            "module's routes) on the embedded default config or FILE.\n\n"
            "  --config FILE       YAML config (see `girder config check`); SIGHUP re-reads it\n"
            "  --listen HOST:PORT  overrides `listen` (port 0: the kernel picks one; the\n"
            "                      bound address is logged as msg=listening addr=...)\n"
            "  --threads N         overrides `threads` (event-loop threads; 0 = one per CPU)\n\n"
            "Signals: SIGTERM/SIGINT drain and exit 0, SIGHUP reloads the config.\n");
}

static int parse_args(int argc, char **argv)
{
    S.threads_arg = -1;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (i + 1 >= argc) {
            fprintf(stderr, "girder serve: unknown or incomplete option '%s'\n", a);
            return -1;
        }
        if (strcmp(a, "--config") == 0) {
            S.config_path = argv[++i];
        } else if (strcmp(a, "--listen") == 0) {
            S.listen_arg = argv[++i];
        } else if (strcmp(a, "--threads") == 0) {
            char *end;
            S.threads_arg = strtol(argv[++i], &end, 10);
            if (*end || S.threads_arg < 0 || S.threads_arg > 1024) {
                fprintf(stderr, "girder serve: --threads wants 0..1024\n");
                return -1;
            }
        } else {
            fprintf(stderr, "girder serve: unknown option '%s'\n", a);
            return -1;
        }
    }
    return 0;
}

/* Logs every config error as one line: error="FILE:LINE:COL: key 'k': message". */
static void log_config_errors(const struct gd_config_diag *d, const char *what)
{
    for (size_t i = 0; i < d->n; i++) {
        struct gd_buf line, q;
        gd_buf_init(&line, 4096);
        gd_buf_init(&q, 8192);
        if (gd_config_error_format(d, i, &line) == 0 &&
            gd_json_put_str(&q, line.data, line.len) == 0)
            gd_logf(GD_LOG_ERROR, "msg=\"%s\" error=%s", what, q.data);
        gd_buf_free(&line);
        gd_buf_free(&q);
    }
}

static int load_config(struct gd_config **out, const char *what)
{
    struct gd_config_diag diag;
    gd_config_diag_init(&diag, S.config_path ? S.config_path : "<default>");
    int rc = gd_cli_config_load(S.config_path, &diag, out);
    if (rc)
        log_config_errors(&diag, what);
    gd_config_diag_free(&diag);
    return rc;
}

static void config_unref(void *p)
{
    gd_config_unref(p);
}

static void log_routes(const struct gd_http_router *r)
{
    const char *method, *label;
    for (size_t i = 0; gd_http_router_get(r, i, &method, &label) == 0; i++)
        gd_logf(GD_LOG_INFO, "msg=route method=%s path=%s", method, label);
}

/* A site = the HTTP settings of cfg + a router with every module's routes. */
static int build_site(struct gd_config *cfg, struct gd_http_site **out)
{
    struct gd_http_settings s;
    memset(&s, 0, sizeof s);
    s.limits.max_header_bytes = cfg->limits.max_header_bytes;
    s.limits.max_headers = cfg->limits.max_headers;
    s.limits.max_target_bytes = cfg->limits.max_target_bytes;
    s.limits.max_body_bytes = cfg->limits.max_body_bytes;
    s.timeouts.header_ms = cfg->timeouts.header_ms;
    s.timeouts.body_ms = cfg->timeouts.body_ms;
    s.timeouts.keepalive_ms = cfg->timeouts.keepalive_ms;
    s.timeouts.write_ms = cfg->timeouts.write_ms;
    s.observer = (struct gd_http_observer){gd_serve_request_done, gd_serve_connections, NULL};
    struct gd_http_router *r;
    int rc = gd_http_router_new(&r);
    if (rc)
        return rc;
    for (size_t i = 0; i < sizeof route_modules / sizeof route_modules[0]; i++) {
        rc = route_modules[i].fn(r, cfg);
        if (rc) {
            gd_logf(GD_LOG_ERROR, "msg=\"route registration failed\" module=%s error=\"%s\"",
                    route_modules[i].name, gd_strerror(rc));
            gd_http_router_free(r);
            return rc;
        }
    }
    log_routes(r);
    rc = gd_http_site_new(&s, r, gd_config_ref(cfg), config_unref, out);
    if (rc) {
        gd_config_unref(cfg);
        gd_http_router_free(r);
    }
    return rc;
}

/* ---- listeners ---- */

static int open_listener(struct gd_listen_addr *a)
{
    int fd = socket(a->family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) != 0 ||
        bind(fd, (struct sockaddr *)&a->ss, a->ss_len) != 0 || listen(fd, 4096) != 0) {
        int e = errno;
        close(fd);
        errno = e;
        return -1;
    }
    if (a->port == 0) { /* the first listener picked the port: the others reuse it */
        struct sockaddr_storage ss;
        socklen_t sl = sizeof ss;
        getsockname(fd, (struct sockaddr *)&ss, &sl);
        a->port = ntohs(a->family == AF_INET ? ((struct sockaddr_in *)&ss)->sin_port
                                             : ((struct sockaddr_in6 *)&ss)->sin6_port);
        if (a->family == AF_INET)
            ((struct sockaddr_in *)&a->ss)->sin_port = htons(a->port);
        else
            ((struct sockaddr_in6 *)&a->ss)->sin6_port = htons(a->port);
        char *colon = strrchr(a->text, ':');
        if (colon)
            snprintf(colon + 1, sizeof a->text - (size_t)(colon + 1 - a->text), "%u", a->port);
    }
    return fd;
}

static int start_workers(unsigned n)
{
    S.workers = gd_calloc(n, sizeof *S.workers);
    if (!S.workers)
        return GD_ENOMEM;
    S.n_alloc = n;
    for (unsigned i = 0; i < n; i++) {
        struct worker *w = &S.workers[i];
        w->index = (int)i;
        int fd = open_listener(&S.addr);
        if (fd < 0) {
            gd_logf(GD_LOG_ERROR, "msg=\"cannot listen\" addr=%s error=\"%s\"", S.addr.text,
                    strerror(errno));
            return GD_EIO;
        }
        int rc = gd_loop_new(&w->loop);
        if (!rc) {
            gd_loop_set_index(w->loop, (int)i);
            rc = gd_http_server_new(w->loop, fd, S.site, &w->srv);
        }
        if (rc) {
            close(fd);
            return rc;
        }
        S.n_workers++;
    }
    return 0;
}

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    if (gd_loop_run(w->loop) != 0)
        gd_logf(GD_LOG_ERROR, "msg=\"event loop failed\" thread=%d", w->index);
    return NULL;
}

/* ---- drain ---- */

static void main_worker_drained(struct gd_loop *loop, void *ud)
{
    (void)ud;
    if (++S.drained == S.n_workers) {
        gd_logf(GD_LOG_INFO, "msg=\"drain complete\"");
        gd_loop_stop(loop);
    }
}

static void worker_drained(void *ud)
{
    (void)ud;
    gd_loop_post(S.main_loop, main_worker_drained, NULL);
}

/* "msg=draining" is logged once every loop drains, so that whatever arrives after it is
 * answered in drain mode (Connection: close), whichever loop reads it. */
static void drain_started(void)
{
    if (atomic_fetch_add(&S.drain_started, 1) + 1 == S.n_workers)
        gd_logf(GD_LOG_INFO, "msg=draining signal=%d deadline_ms=%u", S.drain_signal,
                S.drain_deadline_ms);
}

static void worker_drain(struct gd_loop *loop, void *ud)
{
    (void)loop;
    struct worker *w = ud;
    drain_started(); /* before: the same callback enters drain mode, nothing runs between */
    gd_http_server_drain(w->srv, worker_drained, w);
}

static void drain_deadline(struct gd_loop *loop, struct gd_timer *t, void *ud)
{
    (void)t, (void)ud;
    gd_logf(GD_LOG_WARN, "msg=\"drain deadline reached, closing remaining connections\"");
    gd_loop_stop(loop);
}

static void begin_drain(int sig)
{
    if (atomic_exchange(&gd_serve.draining, 1)) {
        gd_logf(GD_LOG_WARN, "msg=\"second signal, exiting now\" signal=%d", sig);
        gd_loop_stop(S.main_loop);
        return;
    }
    S.drain_signal = sig;
    S.drain_deadline_ms = S.cfg->drain_timeout_ms;
    gd_timer_init(&S.drain_timer, drain_deadline, NULL);
    gd_timer_start(S.main_loop, &S.drain_timer, S.cfg->drain_timeout_ms);
    for (unsigned i = 0; i < S.n_workers; i++)
        if (gd_loop_post(S.workers[i].loop, worker_drain, &S.workers[i]) != 0) {
            drain_started();
            main_worker_drained(S.main_loop, NULL);
        }
}

/* ---- reload ---- */

struct reload_waiter {
    gd_reload_done_fn done;
    void *ud;
    unsigned gen; /* the reload it waits for (or a later one) to reach every loop */
    struct reload_waiter *next;
};

/* Waiters of reload gen or an earlier one: done(rc), in request order. */
static void notify_waiters(unsigned gen, int rc)
{
    struct reload_waiter **pp = &S.waiters, *ready = NULL, **tail = &ready;
    while (*pp) {
        struct reload_waiter *w = *pp;
        if ((int)(w->gen - gen) <= 0) {
            *pp = w->next;
            w->next = NULL;
            *tail = w;
            tail = &w->next;
        } else {
            pp = &w->next;
        }
    }
    while (ready) {
        struct reload_waiter *w = ready;
        ready = w->next;
        w->done(w->ud, rc);
        gd_free(w);
    }
}

struct site_swap {
    struct worker *w;
    struct gd_http_site *site;
    unsigned gen;
};

/* Main thread: one loop has switched to reload number gen. "config reloaded" is logged
 * once every loop serves new requests with it. */
static void main_swap_done(struct gd_loop *loop, void *ud)
{
    (void)loop;
    unsigned gen = (unsigned)(uintptr_t)ud;
    if (gen == S.reload_gen && ++S.reload_acks == S.n_workers) {
        gd_logf(GD_LOG_INFO, "msg=\"config reloaded\" source=%s", S.cfg->source);
        notify_waiters(gen, 0);
    }
}

static void worker_swap_site(struct gd_loop *loop, void *ud)
{
    (void)loop;
    struct site_swap *sw = ud;
    gd_http_server_set_site(sw->w->srv, sw->site);
    gd_http_site_unref(sw->site);
    gd_loop_post(S.main_loop, main_swap_done, (void *)(uintptr_t)sw->gen);
    gd_free(sw);
}

/* The default `instance` label of remote-written series: host:port. */
static const char *rw_instance(char *out, size_t n)
{
    char host[256] = "localhost";
    gethostname(host, sizeof host - 1);
    host[sizeof host - 1] = 0;
    snprintf(out, n, "%s:%u", host, (unsigned)S.addr.port);
    return out;
}
enum { RW_OFF_DEADLINE_MS = 1000 }; /* a reload that turns remote write off sends for <= 1 s */

/* Returns 0 when the new config was handed to every loop, else an error (the old stays). */
static int reload(void)
{
    struct gd_config *cfg;
    int rc = load_config(&cfg, "config reload failed, keeping the previous config");
    if (rc)
        return rc;
    if (strcmp(cfg->listen.text, S.cfg->listen.text) != 0 ||
        gd_config_threads(cfg) != gd_config_threads(S.cfg))
        gd_logf(GD_LOG_WARN, "msg=\"listen and threads changes need a restart\"");
    struct gd_http_site *site;
    if ((rc = build_site(cfg, &site)) != 0) {
        gd_logf(GD_LOG_ERROR, "msg=\"config reload failed, keeping the previous config\"");
        gd_config_unref(cfg);
        return rc;
    }
    S.reload_gen++;
    S.reload_acks = 0;
    for (unsigned i = 0; i < S.n_workers; i++) {
        struct site_swap *sw = gd_malloc(sizeof *sw);
        if (sw) {
            *sw = (struct site_swap){&S.workers[i], site, S.reload_gen};
            gd_http_site_ref(site);
            if (gd_loop_post(S.workers[i].loop, worker_swap_site, sw) == 0)
                continue;
            gd_http_site_unref(site);
            gd_free(sw);
        }
        gd_logf(GD_LOG_ERROR, "msg=\"cannot hand the new config to a loop\" thread=%u", i);
    }
    gd_http_site_unref(S.site);
    S.site = site;
    gd_config_unref(S.cfg);
    S.cfg = cfg;
    gd_log_set_level(cfg->log_level);
    gd_trace_configure(gd_trace_config_get(cfg));
    char instance[300];
    if (gd_rw_configure(gd_rw_config_get(cfg), rw_instance(instance, sizeof instance),
                        RW_OFF_DEADLINE_MS) != 0)
        gd_logf(GD_LOG_ERROR, "msg=\"cannot apply the metrics remote write settings\"");
    struct gd_access_log *log = atomic_load(&gd_serve.access_log);
    if (log && gd_access_log_reopen(log) != 0)
        gd_logf(GD_LOG_WARN, "msg=\"cannot reopen the access log\"");
    return 0;
}

/* Main thread: a module's reload request (gd_reload_request). Its done runs once every
 * loop has the new site (main_swap_done), or now when the reload failed. */
static void main_reload_request(struct gd_loop *loop, void *ud)
{
    (void)loop;
    struct reload_waiter *w = ud;
    int rc = reload();
    if (rc) {
        w->done(w->ud, rc);
        gd_free(w);
        return;
    }
    w->gen = S.reload_gen;
    w->next = S.waiters;
    S.waiters = w;
    if (S.reload_acks == S.n_workers) /* every loop already acknowledged (or none runs) */
        notify_waiters(S.reload_gen, 0);
}

/* The gd_reload_request handler: any thread; the reload runs on the main loop. */
static int request_reload(gd_reload_done_fn done, void *ud)
{
    struct reload_waiter *w = gd_calloc(1, sizeof *w);
    if (!w)
        return GD_ENOMEM;
    w->done = done;
    w->ud = ud;
    int rc = gd_loop_post(S.main_loop, main_reload_request, w);
    if (rc)
        gd_free(w);
    return rc;
}

/* Signal handlers only write the signal number to a pipe the main loop watches. A
 * signalfd is not enough here: libraries linked into the binary (OpenBLAS) start threads
 * before main(), and a process-directed signal may land on any thread that does not block
 * it; a handler works on whichever thread runs it. */
static int sig_pipe[2] = {-1, -1};

static void on_signal(int sig)
{
    int saved = errno;
    unsigned char b = (unsigned char)sig;
    ssize_t w = write(sig_pipe[1], &b, 1);
    (void)w;
    errno = saved;
}

static void signal_cb(struct gd_loop *loop, struct gd_io *io, int fd, unsigned ev, void *ud)
{
    (void)loop, (void)io, (void)ev, (void)ud;
    unsigned char sigs[16];
    ssize_t n;
    while ((n = read(fd, sigs, sizeof sigs)) > 0)
        for (ssize_t i = 0; i < n; i++) {
            if (sigs[i] == SIGHUP)
                (void)reload(); /* failures are logged */
            else
                begin_drain(sigs[i]);
        }
}

static int setup_signals(void)
{
    if (pipe2(sig_pipe, O_NONBLOCK | O_CLOEXEC) != 0)
        return GD_EIO;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sa.sa_flags = SA_RESTART;
    sigemptyset(&sa.sa_mask);
    if (sigaction(SIGTERM, &sa, NULL) || sigaction(SIGINT, &sa, NULL) ||
        sigaction(SIGHUP, &sa, NULL))
        return GD_EIO;
    signal(SIGPIPE, SIG_IGN);
    S.sigfd = sig_pipe[0];
    return gd_loop_io_add(S.main_loop, S.sigfd, GD_IO_READ, signal_cb, NULL, &S.sig_io);
}

static void raise_nofile(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
}

static int setup_observability(void)
{
    gd_serve.metrics = gd_metrics_default();
    if (!gd_serve.metrics || gd_serve_observe_init(gd_serve.metrics) != 0)
        return GD_ENOMEM;
    const char *gi = getenv("GIRDER_GPU_INTERVAL_MS");
    if (gd_gpu_start(gi && *gi ? strtoull(gi, NULL, 10) : 5000) != 0)
        return GD_ENOMEM;
    int trc = gd_trace_start(gd_trace_config_get(S.cfg));
    if (trc) {
        gd_logf(GD_LOG_ERROR, "msg=\"cannot start the trace exporter\" error=\"%s\"",
                gd_strerror(trc));
        return trc;
    }
    if (!S.cfg->access_log.enabled)
        return 0;
    struct gd_access_log *log;
    int rc = gd_access_log_open(S.cfg->access_log.path, S.cfg->access_log.format, &log);
    if (rc) {
        gd_logf(GD_LOG_ERROR, "msg=\"cannot open the access log\" error=\"%s\"", strerror(errno));
        return rc;
    }
    atomic_store(&gd_serve.access_log, log);
    return 0;
}

static int resolve_listen(void)
{
    if (!S.listen_arg) {
        S.addr = S.cfg->listen;
        return 0;
    }
    char msg[160] = "";
    if (gd_config_parse_listen(S.listen_arg, &S.addr, msg, sizeof msg) != 0) {
        fprintf(stderr, "girder serve: --listen %s: %s\n", S.listen_arg, msg);
        return GD_EINVAL;
    }
    return 0;
}

static void teardown(void)
{
    gd_reload_set_handler(NULL);
    notify_waiters(S.reload_gen, GD_ECLOSED); /* their answers still reach running loops */
    for (unsigned i = 0; i < S.n_started; i++)
        gd_loop_stop(S.workers[i].loop);
    for (unsigned i = 0; i < S.n_started; i++)
        pthread_join(S.workers[i].thread, NULL);
    gd_trace_stop(S.cfg ? S.cfg->drain_timeout_ms : 0); /* the last spans, within the drain time */
    gd_rw_stop(S.cfg ? S.cfg->drain_timeout_ms : 0);    /* the last metrics snapshot, likewise */
    gd_gpu_stop();
    for (unsigned i = 0; i < S.n_alloc; i++) {
        gd_http_server_free(S.workers[i].srv);
        gd_loop_free(S.workers[i].loop);
    }
    gd_free(S.workers);
    gd_http_site_unref(S.site);
    gd_config_unref(S.cfg);
    gd_loop_io_del(S.main_loop, S.sig_io);
    gd_serve_memory_stop(S.main_loop);
    signal(SIGTERM, SIG_DFL);
    signal(SIGINT, SIG_DFL);
    signal(SIGHUP, SIG_DFL);
    for (int i = 0; i < 2; i++)
        if (sig_pipe[i] >= 0) {
            close(sig_pipe[i]);
            sig_pipe[i] = -1;
        }
    gd_loop_free(S.main_loop);
    gd_access_log_close(atomic_exchange(&gd_serve.access_log, NULL));
}

static int run(void)
{
    unsigned n = S.threads_arg >= 0 ? (unsigned)S.threads_arg : gd_config_threads(S.cfg);
    if (n == 0) { /* --threads 0: one per CPU */
        long cpus = sysconf(_SC_NPROCESSORS_ONLN);
        n = cpus > 0 ? (unsigned)cpus : 1;
    }
    int rc = start_workers(n);
    if (rc)
        return rc;
    /* before any worker accepts: a request for a reload (model load/unload) may come
     * first; it waits in the main loop's queue until the loop runs */
    gd_reload_set_handler(request_reload);
    gd_logf(GD_LOG_INFO, "msg=listening addr=%s threads=%u config=%s", S.addr.text, n,
            S.cfg->source);
    for (unsigned i = 0; i < S.n_workers; i++) {
        if (pthread_create(&S.workers[i].thread, NULL, worker_main, &S.workers[i]) != 0) {
            gd_logf(GD_LOG_ERROR, "msg=\"cannot start thread\"");
            return GD_EIO;
        }
        S.n_started++;
    }
    atomic_store(&gd_serve.ready, 1);
    char instance[300];
    if ((rc = gd_rw_start(gd_rw_config_get(S.cfg), rw_instance(instance, sizeof instance))) != 0)
        gd_logf(GD_LOG_ERROR, "msg=\"cannot start metrics remote write\" error=\"%s\"",
                gd_strerror(rc));
    gd_serve_memory_start(S.main_loop);
    rc = gd_loop_run(S.main_loop);
    atomic_store(&gd_serve.ready, 0);
    gd_logf(GD_LOG_INFO, "msg=stopped");
    return rc;
}

int gd_cmd_serve(int argc, char **argv)
{
    if (gd_cli_wants_help(argc, argv)) {
        usage(stdout);
        return 0;
    }
    memset(&S, 0, sizeof S);
    S.sigfd = -1;
    if (parse_args(argc, argv) != 0) {
        usage(stderr);
        return 2;
    }
    if (load_config(&S.cfg, "invalid config") != 0)
        return 1;
    gd_log_set_level(S.cfg->log_level);
    raise_nofile();
    int rc = resolve_listen();
    if (!rc)
        rc = gd_loop_new(&S.main_loop);
    if (!rc)
        rc = setup_signals();
    if (!rc)
        rc = setup_observability();
    if (!rc)
        rc = build_site(S.cfg, &S.site);
    if (!rc)
        rc = run();
    teardown();
    return rc ? 1 : 0;
}
