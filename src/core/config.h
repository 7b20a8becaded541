/* girder's configuration: a YAML file (core/yaml.h) validated against a schema into an
 * immutable, reference-counted struct gd_config.
 *
 * The foundation keys (listen, threads, limits, timeouts, access_log, metrics, ...) are
 * parsed here; other modules add their own top-level keys through struct gd_config_section
 * without core depending on them. Unknown keys anywhere are errors (with a "did you mean"
 * suggestion), never silently ignored. docs/configuration.md documents every key.
 *
 * Errors are collected, not just the first one, into a struct gd_config_diag; each carries
 * line/column, the dotted key path and a message, and formats as
 *     FILE:LINE:COL: key 'limits.max_body_bytes': expected a size ...
 * Values that came from the environment (${VAR}) are never quoted in messages.
 *
 * Threading: loading is thread-safe (no global state besides getenv). A loaded config is
 * immutable; share it between threads with gd_config_ref/unref, or swap it atomically with a
 * struct gd_config_holder (SIGHUP reload while old requests still hold the previous one). */
#ifndef GD_CORE_CONFIG_H
#define GD_CORE_CONFIG_H

#include "core/buf.h"
#include "core/log.h"
#include "core/yaml.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

/* ---- Diagnostics ---------------------------------------------------------------------- */

struct gd_config_error {
    int line, col;  /* 1-based; 0 when the error has no position (e.g. cannot read file) */
    char key[128];  /* dotted key path ("listen", "limits.max_headers"); "" for none */
    char msg[320];  /* human-readable, never contains secret values */
};

/* A capped list of errors (at most GD_CONFIG_MAX_ERRORS are kept, the rest counted). */
#define GD_CONFIG_MAX_ERRORS 64
struct gd_config_diag {
    const char *file; /* name used in formatted messages; borrowed, must outlive the diag */
    struct gd_config_error *errs;
    size_t n, cap;
    size_t dropped;   /* errors beyond the cap */
};

/* file is borrowed (e.g. the path given on the command line, or "<default>"). */
void gd_config_diag_init(struct gd_config_diag *d, const char *file);
void gd_config_diag_free(struct gd_config_diag *d);
/* Records an error located at node `at` (NULL: no position) about key path `key` (NULL: the
 * node's own path). printf-style message. Never fails (out of memory: counted in dropped). */
void gd_config_diag_add(struct gd_config_diag *d, const struct gd_yaml_node *at, const char *key,
                        const char *fmt, ...) __attribute__((format(printf, 4, 5)));
/* Same with an explicit position. */
void gd_config_diag_add_at(struct gd_config_diag *d, int line, int col, const char *key,
                           const char *fmt, ...) __attribute__((format(printf, 5, 6)));
/* Appends error i as "FILE:LINE:COL: key 'k': msg" (parts without data are left out),
 * without a newline. Returns 0 or a gd_buf error. */
int gd_config_error_format(const struct gd_config_diag *d, size_t i, struct gd_buf *out);
/* Appends every error, one per line, plus a line about dropped errors if any. */
int gd_config_diag_format_all(const struct gd_config_diag *d, struct gd_buf *out);

/* ---- Typed getters for section parsers ---------------------------------------------------
 * All take a map node (may be NULL, meaning "section absent") and a key. When the key is
 * absent or its value is null (`key:` / `key: ~`) they return 0 and leave *out untouched, so
 * callers set defaults first. When present and valid they store *out and return 0. Otherwise
 * they record an error naming the key path (and the value, unless it is secret) and return
 * GD_EINVAL. */
int gd_config_get_int(struct gd_config_diag *d, const struct gd_yaml_node *map, const char *key,
                      int64_t min, int64_t max, int64_t *out);
/* true/false (also yes/no/on/off, any case). */
int gd_config_get_bool(struct gd_config_diag *d, const struct gd_yaml_node *map, const char *key,
                       bool *out);
/* A scalar of at most max_len bytes without NUL bytes. *out points into the document: copy it
 * (gd_strdup) before the parse callback returns. If is_secret is non-NULL it receives whether
 * the value came from the environment. An empty string is allowed; check it yourself. */
int gd_config_get_string(struct gd_config_diag *d, const struct gd_yaml_node *map,
                         const char *key, size_t max_len, const char **out, bool *is_secret);
/* One of names[] (NULL-terminated); *out receives its index. The error lists the choices. */
int gd_config_get_enum(struct gd_config_diag *d, const struct gd_yaml_node *map, const char *key,
                       const char *const *names, int *out);
/* Milliseconds: an integer (ms) or a string with a unit: "250ms", "30s", "5m", "1h". */
int gd_config_get_duration_ms(struct gd_config_diag *d, const struct gd_yaml_node *map,
                              const char *key, uint64_t min, uint64_t max, uint64_t *out);
/* Bytes: an integer or "64KiB", "16MiB", "1GiB" (also k/K/KB/M/MB/G/GB, all powers of 1024). */
int gd_config_get_size(struct gd_config_diag *d, const struct gd_yaml_node *map, const char *key,
                       uint64_t min, uint64_t max, uint64_t *out);
/* A nested map / sequence; *out = NULL when absent or null. Wrong kind: error. */
int gd_config_get_map(struct gd_config_diag *d, const struct gd_yaml_node *map, const char *key,
                      const struct gd_yaml_node **out);
int gd_config_get_seq(struct gd_config_diag *d, const struct gd_yaml_node *map, const char *key,
                      const struct gd_yaml_node **out);
/* Records "expected <kind>" for node unless it has that kind; returns 0 or GD_EINVAL. */
int gd_config_expect_kind(struct gd_config_diag *d, const struct gd_yaml_node *node,
                          enum gd_yaml_kind kind);
/* Every key of map must be in allowed[] (NULL-terminated); each other key is recorded as
 * "unknown key in <where> (did you mean 'x'?)". map NULL or not a map: 0. Returns 0 or
 * GD_EINVAL. */
int gd_config_check_keys(struct gd_config_diag *d, const struct gd_yaml_node *map,
                         const char *const *allowed);
/* The closest of candidates[] (NULL-terminated) to word by edit distance, or NULL when none
 * is close enough to be a plausible typo. */
const char *gd_config_suggest(const char *word, const char *const *candidates);

/* ---- Extension sections ------------------------------------------------------------------ */

/* A module's part of the schema. The loader calls parse once per load with the root map
 * (NULL when the document is empty), whether or not the section's keys are present, so the
 * module can apply defaults. parse validates its keys with the getters above, reports every
 * problem through diag, and on success stores its own immutable object in *out (or NULL).
 * Return 0, or a negative GD_E* after recording at least one error (GD_ENOMEM may be returned
 * without one). free releases *out (called with NULL too). summary, optional, appends one
 * short line (no newline) describing the section for `girder config check`, starting with its
 * own label, e.g. "gateway: 2 providers, 3 aliases" (counts, names; never secrets).
 * The struct is borrowed for the lifetime of every config loaded with it (use static data). */
struct gd_config_section {
    const char *name;        /* unique, used with gd_config_section_get */
    const char *const *keys; /* NULL-terminated top-level keys this section owns */
    int (*parse)(const struct gd_yaml_node *root, struct gd_config_diag *diag, void **out);
    void (*free)(void *data);
    void (*summary)(const void *data, struct gd_buf *out);
};

/* ---- The configuration ------------------------------------------------------------------- */

struct gd_listen_addr {
    struct sockaddr_storage ss; /* ready for bind(2) */
    socklen_t ss_len;
    int family;                 /* AF_INET or AF_INET6 */
    uint16_t port;              /* 0: let the kernel pick */
    char text[64];              /* normalised "127.0.0.1:8080" / "[::1]:8080" */
};
/* Parses "HOST:PORT" (IPv4 dotted quad, "localhost" = 127.0.0.1, or "[IPv6]"), port 0-65535.
 * Returns 0 or GD_EINVAL with a reason in msg (may be NULL). Thread-safe. */
int gd_config_parse_listen(const char *s, struct gd_listen_addr *out, char *msg, size_t msg_len);

enum gd_access_log_format { GD_ACCESS_LOG_JSON = 0, GD_ACCESS_LOG_LOGFMT };

/* Which foundation values came from the environment (never print them). */
enum {
    GD_CONFIG_ENV_LISTEN = 1u << 0,
    GD_CONFIG_ENV_ACCESS_LOG_PATH = 1u << 1,
    GD_CONFIG_ENV_METRICS_PATH = 1u << 2,
};

struct gd_config {
    char *source;              /* file path or "<default>" */
    struct gd_listen_addr listen;
    unsigned threads;          /* 0 = one per online CPU (see gd_config_threads) */
    enum gd_log_level log_level;
    struct {
        size_t max_header_bytes; /* request line + headers */
        size_t max_headers;      /* header fields */
        size_t max_target_bytes; /* request target */
        size_t max_body_bytes;   /* decoded body */
    } limits;
    struct {
        uint32_t header_ms;    /* from first byte of a request to the end of its headers */
        uint32_t body_ms;      /* to receive the whole body */
        uint32_t keepalive_ms; /* idle connection between requests */
        uint32_t write_ms;     /* without progress writing a response */
    } timeouts;
    uint32_t drain_timeout_ms; /* SIGTERM/SIGINT: finish in-flight requests for this long */
    struct {
        bool enabled;
        char *path; /* "-" = stdout */
        enum gd_access_log_format format;
    } access_log;
    struct {
        bool enabled;
        char *path; /* HTTP route, e.g. "/metrics" */
    } metrics;
    bool debug_routes; /* test-only routes (see docs/server.md); default false */
    unsigned from_env; /* GD_CONFIG_ENV_* */

    /* private */
    atomic_long gd__refs;
    struct gd_config__sections *gd__sections;
};

struct gd_config_options {
    const struct gd_config_section *const *sections; /* may be NULL when n_sections is 0 */
    size_t n_sections;
    struct gd_yaml_parse_opts yaml; /* limits, environment lookup (zeroed = defaults) */
};

/* Loading. Each returns 0 and a config with one reference in *out, or a negative GD_E* with
 * *out = NULL and every error found recorded in diag (GD_EINVAL for schema errors, GD_EPARSE
 * for YAML syntax, GD_EIO/GD_ENOENT for unreadable files, GD_ELIMIT for caps). opts may be
 * NULL (no extension sections). name is the source name used in messages. */
int gd_config_load_mem(const char *data, size_t len, const char *name,
                       const struct gd_config_options *opts, struct gd_config_diag *diag,
                       struct gd_config **out);
int gd_config_load_file(const char *path, const struct gd_config_options *opts,
                        struct gd_config_diag *diag, struct gd_config **out);
/* The configuration compiled into the binary (src/cli/default_config.yaml). */
int gd_config_load_default(const struct gd_config_options *opts, struct gd_config_diag *diag,
                           struct gd_config **out);
/* The embedded default YAML text (NUL-terminated) and its length. */
const char *gd_config_default_yaml(size_t *len);

/* Reference counting (thread-safe). ref returns cfg; unref of the last reference frees it
 * and its sections. unref(NULL) is a no-op. */
struct gd_config *gd_config_ref(struct gd_config *cfg);
void gd_config_unref(struct gd_config *cfg);
/* The object a section's parse stored, or NULL (unknown name or section stored NULL). */
const void *gd_config_section_get(const struct gd_config *cfg, const char *name);
/* Effective loop thread count: threads, or the number of online CPUs when 0. */
unsigned gd_config_threads(const struct gd_config *cfg);
/* Appends the `girder config check` summary (several "key: value" lines): listen, threads,
 * log level, limits, timeouts, access log, metrics, section summaries. Values from the
 * environment are shown as "(from environment)". */
int gd_config_summary(const struct gd_config *cfg, struct gd_buf *out);

/* ---- Atomic swap for reloads ------------------------------------------------------------- */

/* Holds the current config. get returns a new reference (caller unrefs when done); set
 * installs cfg (takes over the caller's reference) and drops the holder's reference to the
 * previous one, which lives on until its last user unrefs it. All calls thread-safe. */
struct gd_config_holder {
    pthread_mutex_t mu;
    struct gd_config *cur;
};
void gd_config_holder_init(struct gd_config_holder *h, struct gd_config *cfg);
struct gd_config *gd_config_holder_get(struct gd_config_holder *h);
void gd_config_holder_set(struct gd_config_holder *h, struct gd_config *cfg);
void gd_config_holder_destroy(struct gd_config_holder *h);

#endif
