/* Config loader: YAML errors with positions, schema errors (unknown keys with suggestions,
 * types, ranges), ${ENV} substitution and secret hiding, extension sections, limits, the
 * embedded default, refcounting and the holder. */
#include "core/alloc.h"
#include "core/config.h"
#include "serve/ms_config.h"
#include "girder/error.h"

#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Test environment: NAME=value pairs, so tests never depend on the real environment. */
static const char *test_env(void *ud, const char *name)
{
    (void)ud;
    if (strcmp(name, "GD_TEST_KEY") == 0)
        return "sk-very-secret-123";
    if (strcmp(name, "GD_TEST_PORT") == 0)
        return "127.0.0.1:9099";
    if (strcmp(name, "GD_TEST_BIG") == 0)
        return "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx";
    return NULL;
}

static struct gd_config_options opts_env(void)
{
    struct gd_config_options o;
    memset(&o, 0, sizeof o);
    o.yaml.getenv = test_env;
    return o;
}

/* Loads text; returns rc; the formatted errors end up in *errs (static buffer). */
static int load(const char *text, const struct gd_config_options *o, struct gd_config **cfg,
                char *errs, size_t errs_len)
{
    struct gd_config_diag d;
    gd_config_diag_init(&d, "test.yaml");
    struct gd_config_options def = opts_env();
    int rc = gd_config_load_mem(text, strlen(text), "test.yaml", o ? o : &def, &d, cfg);
    struct gd_buf b;
    gd_buf_init(&b, 1 << 20);
    gd_config_diag_format_all(&d, &b);
    snprintf(errs, errs_len, "%s", b.data ? b.data : "");
    gd_buf_free(&b);
    gd_config_diag_free(&d);
    return rc;
}

#define LOAD_FAIL(text, errs)                                                                      \
    do {                                                                                           \
        struct gd_config *c_ = NULL;                                                               \
        int rc_ = load(text, NULL, &c_, errs, sizeof errs);                                        \
        cr_assert_neq(rc_, 0, "expected failure for: %s", text);                                   \
        cr_assert_null(c_);                                                                        \
    } while (0)

Test(config, defaults_from_empty_document)
{
    char errs[2048];
    struct gd_config *c = NULL;
    cr_assert_eq(load("", NULL, &c, errs, sizeof errs), 0, "%s", errs);
    cr_assert_str_eq(c->listen.text, "127.0.0.1:8080");
    cr_assert_eq(c->threads, 0);
    cr_assert_eq(c->limits.max_headers, 100);
    cr_assert_eq(c->limits.max_body_bytes, 16u << 20);
    cr_assert_eq(c->timeouts.keepalive_ms, 60000);
    cr_assert(c->access_log.enabled);
    cr_assert_str_eq(c->access_log.path, "-");
    cr_assert_str_eq(c->metrics.path, "/metrics");
    cr_assert_not(c->debug_routes);
    gd_config_unref(c);
    cr_assert_eq(load("# only a comment\n", NULL, &c, errs, sizeof errs), 0, "%s", errs);
    gd_config_unref(c);
    cr_assert_eq(load("---\n", NULL, &c, errs, sizeof errs), 0, "%s", errs);
    gd_config_unref(c);
}

Test(config, full_document)
{
    const char *y = "listen: \"[::1]:0\"\n"
                    "threads: 4\n"
                    "log_level: debug\n"
                    "limits: {max_header_bytes: 8KiB, max_headers: 50, max_target_bytes: 2048,"
                    " max_body_bytes: 1MiB}\n"
                    "timeouts:\n  header_ms: 5s\n  body_ms: 250ms\n  keepalive_ms: 2m\n"
                    "  write_ms: 1500\n"
                    "drain_timeout_ms: 0\n"
                    "access_log: {enabled: false, path: /tmp/a.log, format: logfmt}\n"
                    "metrics: {enabled: yes, path: /m}\n"
                    "debug_routes: true\n";
    char errs[2048];
    struct gd_config *c = NULL;
    cr_assert_eq(load(y, NULL, &c, errs, sizeof errs), 0, "%s", errs);
    cr_assert_str_eq(c->listen.text, "[::1]:0");
    cr_assert_eq(c->listen.family, AF_INET6);
    cr_assert_eq(c->threads, 4);
    cr_assert_eq(c->log_level, GD_LOG_DEBUG);
    cr_assert_eq(c->limits.max_header_bytes, 8192);
    cr_assert_eq(c->limits.max_headers, 50);
    cr_assert_eq(c->limits.max_target_bytes, 2048);
    cr_assert_eq(c->limits.max_body_bytes, 1 << 20);
    cr_assert_eq(c->timeouts.header_ms, 5000);
    cr_assert_eq(c->timeouts.body_ms, 250);
    cr_assert_eq(c->timeouts.keepalive_ms, 120000);
    cr_assert_eq(c->timeouts.write_ms, 1500);
    cr_assert_eq(c->drain_timeout_ms, 0);
    cr_assert_not(c->access_log.enabled);
    cr_assert_str_eq(c->access_log.path, "/tmp/a.log");
    cr_assert_eq(c->access_log.format, GD_ACCESS_LOG_LOGFMT);
    cr_assert_str_eq(c->metrics.path, "/m");
    cr_assert(c->debug_routes);
    gd_config_unref(c);
}

Test(config, yaml_syntax_error_has_line_and_column)
{
    char errs[2048];
    LOAD_FAIL("listen: 127.0.0.1:8080\nlimits:\n  max_headers: [1, 2\n", errs);
    cr_assert(strncmp(errs, "test.yaml:4:1: YAML syntax error:", 33) == 0, "%s", errs);
    LOAD_FAIL("a: b\n c: d\n", errs);
    cr_assert(strncmp(errs, "test.yaml:2:3: YAML syntax error: mapping values", 47) == 0, "%s",
              errs);
}

Test(config, unknown_key_with_suggestion)
{
    char errs[2048];
    LOAD_FAIL("threads: 1\nlistne: 127.0.0.1:1\n", errs);
    cr_assert_str_eq(errs, "test.yaml:2:1: key 'listne': unknown key in <root> "
                           "(did you mean 'listen'?)\n");
    LOAD_FAIL("limits:\n  max_body: 10\n", errs);
    cr_assert_str_eq(errs, "test.yaml:2:3: key 'limits.max_body': unknown key in limits "
                           "(did you mean 'max_body_bytes'?)\n");
    LOAD_FAIL("zzzzzzzz: 1\n", errs);
    cr_assert_str_eq(errs, "test.yaml:1:1: key 'zzzzzzzz': unknown key in <root>\n");
}

Test(config, every_error_is_reported)
{
    char errs[4096];
    LOAD_FAIL("threads: many\nlog_level: loud\nlimits:\n  max_headers: 0\n"
              "  max_body_bytes: 5XB\ntimeouts: [1]\naccess_log: {format: xml, enabled: maybe}\n"
              "metrics: {path: metrics}\nlisten: 1.2.3.4\n",
              errs);
    const char *want[] = {
        "test.yaml:1:10: key 'threads': expected an integer from 0 to 1024, got 'many'\n",
        ("test.yaml:2:12: key 'log_level': expected one of debug, info, warn, error, off, got "
         "'loud'\n"),
        "test.yaml:4:16: key 'limits.max_headers': expected an integer from 1 to 10000, got '0'\n",
        "test.yaml:5:19: key 'limits.max_body_bytes': expected a size",
        "test.yaml:6:11: key 'timeouts': expected a map, got a sequence\n",
        "key 'access_log.format': expected one of json, logfmt, got 'xml'\n",
        "key 'access_log.enabled': expected true or false, got 'maybe'\n",
        "key 'metrics.path': must be a URL path starting with '/'",
        "test.yaml:9:9: key 'listen': invalid address '1.2.3.4': expected HOST:PORT\n",
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
        cr_assert_not_null(strstr(errs, want[i]), "missing <%s> in:\n%s", want[i], errs);
}

Test(config, ranges_and_units)
{
    char errs[2048];
    LOAD_FAIL("timeouts: {header_ms: 0}\n", errs);
    cr_assert_not_null(strstr(errs, "key 'timeouts.header_ms': '0' is out of range"), "%s", errs);
    LOAD_FAIL("limits: {max_body_bytes: 2GiB}\n", errs);
    cr_assert_not_null(strstr(errs, "'2GiB' is out of range (allowed 0 to 1073741824)"), "%s",
                       errs);
    LOAD_FAIL("limits: {max_body_bytes: 99999999999999999999999}\n", errs);
    cr_assert_not_null(strstr(errs, "expected a size"), "%s", errs);
    LOAD_FAIL("threads: -1\n", errs);
    LOAD_FAIL("threads: 1.5\n", errs);
    LOAD_FAIL("listen: 127.0.0.1:65536\n", errs);
    cr_assert_not_null(strstr(errs, "port must be a number"), "%s", errs);
    LOAD_FAIL("listen: \"::1:80\"\n", errs);
    cr_assert_not_null(strstr(errs, "brackets"), "%s", errs);
    LOAD_FAIL("listen: example.com:80\n", errs);
}

Test(config, hints_for_tabs_and_enum_typos)
{
    char errs[2048];
    LOAD_FAIL("limits:\n\tmax_headers: 5\n", errs);
    cr_assert_str_eq(errs, "test.yaml:2:1: YAML syntax error: tab character (indent with spaces, "
                           "not tabs)\n");
    LOAD_FAIL("log_level: warning\n", errs);
    cr_assert_str_eq(errs, "test.yaml:1:12: key 'log_level': expected one of debug, info, warn, "
                           "error, off, got 'warning' (did you mean 'warn'?)\n");
}

Test(config, top_level_must_be_map)
{
    char errs[2048];
    LOAD_FAIL("- a\n- b\n", errs);
    cr_assert_str_eq(errs, "test.yaml:1:1: the top level must be a map of settings\n");
    LOAD_FAIL("just a string\n", errs);
}

Test(config, duplicate_keys_and_aliases_rejected)
{
    char errs[2048];
    LOAD_FAIL("threads: 1\nlog_level: info\nthreads: 2\n", errs);
    cr_assert_str_eq(errs, "test.yaml:3:1: key 'threads': duplicate key (first defined at "
                           "line 1)\n");
    LOAD_FAIL("limits: &l {max_headers: 5}\ntimeouts: *l\n", errs);
    cr_assert_not_null(strstr(errs, "test.yaml:2:11: key 'timeouts': aliases"), "%s", errs);
    LOAD_FAIL("threads: 1\n---\nthreads: 2\n", errs);
    cr_assert_not_null(strstr(errs, "more than one YAML document"), "%s", errs);
}

Test(config, env_substitution_and_defaults)
{
    char errs[2048];
    struct gd_config *c = NULL;
    cr_assert_eq(load("listen: ${GD_TEST_PORT}\naccess_log: {path: \"/var/${GD_NOPE:-log}/x\"}\n"
                      "metrics: {path: \"/m$${literal}\"}\n",
                      NULL, &c, errs, sizeof errs),
                 0, "%s", errs);
    cr_assert_str_eq(c->listen.text, "127.0.0.1:9099");
    cr_assert_eq(c->from_env, GD_CONFIG_ENV_LISTEN);
    cr_assert_str_eq(c->access_log.path, "/var/log/x");
    cr_assert_str_eq(c->metrics.path, "/m${literal}");
    struct gd_buf b;
    gd_buf_init(&b, 1 << 16);
    cr_assert_eq(gd_config_summary(c, &b), 0);
    cr_assert_not_null(strstr(b.data, "listen: (from environment)\n"), "%s", b.data);
    cr_assert_null(strstr(b.data, "9099"));
    gd_buf_free(&b);
    gd_config_unref(c);
}

Test(config, unset_variables_all_reported)
{
    char errs[2048];
    LOAD_FAIL("listen: ${GD_UNSET_A}\naccess_log:\n  path: x${GD_UNSET_B}\n", errs);
    cr_assert_str_eq(errs,
                     "test.yaml:1:9: key 'listen': environment variable 'GD_UNSET_A' is not set "
                     "(write ${GD_UNSET_A:-default} to give a default)\n"
                     "test.yaml:3:9: key 'access_log.path': environment variable 'GD_UNSET_B' is "
                     "not set (write ${GD_UNSET_B:-default} to give a default)\n");
    LOAD_FAIL("listen: ${1BAD}\n", errs);
    cr_assert_not_null(strstr(errs, "malformed environment reference"), "%s", errs);
    LOAD_FAIL("listen: \"${OPEN\"\n", errs);
    cr_assert_not_null(strstr(errs, "malformed environment reference"), "%s", errs);
}

Test(config, secrets_never_in_messages)
{
    char errs[4096];
    /* A secret in a place where it is invalid: the message must not quote it. */
    LOAD_FAIL("listen: ${GD_TEST_KEY}\nthreads: ${GD_TEST_KEY}\nlog_level: ${GD_TEST_KEY}\n"
              "limits: {max_body_bytes: \"${GD_TEST_KEY}\"}\n",
              errs);
    cr_assert_null(strstr(errs, "sk-very"), "secret leaked: %s", errs);
    cr_assert_not_null(strstr(errs, "key 'threads': expected an integer from 0 to 1024, got a "
                                    "value from the environment (not shown)"),
                       "%s", errs);
    cr_assert_not_null(strstr(errs, "key 'listen': invalid address from the environment"), "%s",
                       errs);
    /* The node flag is what sections rely on. */
    struct gd_config_diag d;
    gd_config_diag_init(&d, "t");
    struct gd_yaml_doc *doc = NULL;
    struct gd_yaml_parse_opts po = {.getenv = test_env};
    const char *y = "a: ${GD_TEST_KEY}\nb: plain\nc: \"${GD_NOPE:-dflt}\"\n";
    cr_assert_eq(gd_yaml_parse(y, strlen(y), &po, &d, &doc), 0);
    const struct gd_yaml_node *r = gd_yaml_doc_root(doc);
    cr_assert(gd_yaml_map_get(r, "a")->flags & GD_YAML_F_SECRET);
    cr_assert_not(gd_yaml_map_get(r, "b")->flags & GD_YAML_F_SECRET);
    cr_assert_not(gd_yaml_map_get(r, "c")->flags & GD_YAML_F_SECRET);
    cr_assert_str_eq(gd_yaml_map_get(r, "c")->str, "dflt");
    gd_yaml_doc_free(doc);
    gd_config_diag_free(&d);
}

/* ---- extension sections ------------------------------------------------------------------ */

struct widgets {
    int64_t count;
    char *name;
};
static int widgets_freed;

static int widgets_parse(const struct gd_yaml_node *root, struct gd_config_diag *d, void **out)
{
    static const char *const keys[] = {"count", "name", NULL};
    const struct gd_yaml_node *m = NULL;
    int rc = gd_config_get_map(d, root, "widgets", &m);
    if (rc || !m)
        return rc;
    if (gd_config_check_keys(d, m, keys))
        return GD_EINVAL;
    struct widgets *w = gd_calloc(1, sizeof *w);
    if (!w)
        return GD_ENOMEM;
    const char *name = "none";
    if (gd_config_get_int(d, m, "count", 1, 10, &w->count) ||
        gd_config_get_string(d, m, "name", 32, &name, NULL) || !(w->name = gd_strdup(name))) {
        gd_free(w);
        return GD_EINVAL;
    }
    *out = w;
    return 0;
}

static void widgets_free(void *p)
{
    struct widgets *w = p;
    if (w) {
        gd_free(w->name);
        gd_free(w);
        widgets_freed++;
    }
}

static void widgets_summary(const void *p, struct gd_buf *out)
{
    const struct widgets *w = p;
    gd_buf_printf(out, "widgets: %lld widget(s)", (long long)(w ? w->count : 0));
}

static const char *const widget_keys[] = {"widgets", NULL};
static const struct gd_config_section widgets_section = {
    .name = "widgets",
    .keys = widget_keys,
    .parse = widgets_parse,
    .free = widgets_free,
    .summary = widgets_summary,
};

Test(config, extension_section)
{
    const struct gd_config_section *secs[] = {&widgets_section};
    struct gd_config_options o = opts_env();
    o.sections = secs;
    o.n_sections = 1;
    char errs[2048];
    struct gd_config *c = NULL;
    widgets_freed = 0;
    cr_assert_eq(load("widgets:\n  count: 3\n  name: bolt\n", &o, &c, errs, sizeof errs), 0, "%s",
                 errs);
    const struct widgets *w = gd_config_section_get(c, "widgets");
    cr_assert_not_null(w);
    cr_assert_eq(w->count, 3);
    cr_assert_str_eq(w->name, "bolt");
    cr_assert_null(gd_config_section_get(c, "nope"));
    struct gd_buf b;
    gd_buf_init(&b, 1 << 16);
    gd_config_summary(c, &b);
    cr_assert_not_null(strstr(b.data, "sections: widgets\nwidgets: 3 widget(s)\n"), "%s", b.data);
    gd_buf_free(&b);
    gd_config_unref(c);
    cr_assert_eq(widgets_freed, 1);

    /* Its errors carry positions; an unknown key inside; foundation errors too. */
    cr_assert_neq(load("threads: x\nwidgets:\n  cuont: 3\n", &o, &c, errs, sizeof errs), 0);
    cr_assert_not_null(strstr(errs, "test.yaml:3:3: key 'widgets.cuont': unknown key in widgets "
                                    "(did you mean 'count'?)"),
                       "%s", errs);
    cr_assert_not_null(strstr(errs, "key 'threads'"), "%s", errs);
    /* Without the section, its key is unknown. */
    cr_assert_neq(load("widgets: {count: 1}\n", NULL, &c, errs, sizeof errs), 0);
    cr_assert_not_null(strstr(errs, "unknown key in <root>"), "%s", errs);
    /* A section whose data was stored is freed when another part fails. */
    widgets_freed = 0;
    cr_assert_neq(load("threads: x\nwidgets: {count: 2}\n", &o, &c, errs, sizeof errs), 0);
    cr_assert_eq(widgets_freed, 1);
}

Test(config, limits_are_enforced)
{
    struct gd_config_options o = opts_env();
    o.yaml.limits.max_depth = 4;
    char errs[2048];
    struct gd_config *c = NULL;
    cr_assert_eq(load("a: [[[[1]]]]\n", &o, &c, errs, sizeof errs), GD_ELIMIT);
    cr_assert_not_null(strstr(errs, "nesting deeper than 4 levels"), "%s", errs);
    o = opts_env();
    o.yaml.limits.max_nodes = 10;
    cr_assert_eq(load("a: [1,2,3,4,5,6,7,8,9,10,11]\n", &o, &c, errs, sizeof errs), GD_ELIMIT);
    cr_assert_not_null(strstr(errs, "too many nodes"), "%s", errs);
    o = opts_env();
    o.yaml.limits.max_bytes = 16;
    cr_assert_eq(load("threads: 1\nlog_level: info\n", &o, &c, errs, sizeof errs), GD_ELIMIT);
    o = opts_env();
    o.yaml.limits.max_scalar_bytes = 100;
    cr_assert_eq(load("x: ${GD_TEST_BIG}${GD_TEST_BIG}\n", &o, &c, errs, sizeof errs), GD_ELIMIT);
    cr_assert_not_null(strstr(errs, "after substitution"), "%s", errs);
    cr_assert_null(strstr(errs, "xxxx"), "%s", errs);
}

Test(config, deep_nesting_default_cap_no_crash)
{
    /* 10000 nested flow sequences: capped at depth 32, never a stack overflow. */
    size_t n = 10000;
    char *y = malloc(2 * n + 8);
    memcpy(y, "a: ", 3);
    memset(y + 3, '[', n);
    memset(y + 3 + n, ']', n);
    y[3 + 2 * n] = '\0';
    char errs[2048];
    struct gd_config *c = NULL;
    cr_assert_eq(load(y, NULL, &c, errs, sizeof errs), GD_ELIMIT);
    free(y);
}

Test(config, default_config_loads_and_matches_schema)
{
    struct gd_config_diag d;
    gd_config_diag_init(&d, NULL);
    struct gd_config *c = NULL;
    /* the default also configures model serving: its section must be known */
    const struct gd_config_section *const sections[] = {&gd_ms_config_section};
    struct gd_config_options o = {.sections = sections, .n_sections = 1};
    cr_assert_eq(gd_config_load_default(&o, &d, &c), 0);
    cr_assert_eq(d.n, 0);
    cr_assert_str_eq(d.file, "<default>");
    cr_assert_not_null(gd_ms_config_get(c));
    cr_assert_str_eq(c->listen.text, "127.0.0.1:8080");
    cr_assert(c->metrics.enabled);
    cr_assert(c->access_log.enabled);
    cr_assert_str_eq(c->access_log.path, "-");
    size_t len = 0;
    const char *y = gd_config_default_yaml(&len);
    cr_assert_gt(len, 100);
    cr_assert_eq(strlen(y), len);
    gd_config_unref(c);
    gd_config_diag_free(&d);
}

Test(config, load_file_errors)
{
    struct gd_config_diag d;
    gd_config_diag_init(&d, NULL);
    struct gd_config *c = NULL;
    cr_assert_eq(gd_config_load_file("/nonexistent/girder.yaml", NULL, &d, &c), GD_ENOENT);
    cr_assert_eq(d.n, 1);
    struct gd_buf b;
    gd_buf_init(&b, 4096);
    gd_config_error_format(&d, 0, &b);
    cr_assert_str_eq(b.data, "/nonexistent/girder.yaml: cannot open: No such file or directory");
    gd_buf_free(&b);
    gd_config_diag_free(&d);
    gd_config_diag_init(&d, NULL);
    cr_assert_eq(gd_config_load_file("/tmp", NULL, &d, &c), GD_EINVAL);
    gd_config_diag_free(&d);
}

Test(config, suggestions)
{
    static const char *const words[] = {"listen", "threads", "log_level", "timeouts", NULL};
    cr_assert_str_eq(gd_config_suggest("listne", words), "listen");
    cr_assert_str_eq(gd_config_suggest("thread", words), "threads");
    cr_assert_str_eq(gd_config_suggest("LOG_LEVEL", words), "log_level");
    cr_assert_str_eq(gd_config_suggest("timeout", words), "timeouts");
    cr_assert_null(gd_config_suggest("zebra", words));
    cr_assert_null(gd_config_suggest("x", words));
}

Test(config, listen_parser)
{
    struct gd_listen_addr a;
    char why[128];
    cr_assert_eq(gd_config_parse_listen("localhost:80", &a, why, sizeof why), 0);
    cr_assert_str_eq(a.text, "127.0.0.1:80");
    cr_assert_eq(gd_config_parse_listen("[::]:443", &a, why, sizeof why), 0);
    cr_assert_str_eq(a.text, "[::]:443");
    cr_assert_eq(a.port, 443);
    cr_assert_eq(a.ss_len, sizeof(struct sockaddr_in6));
    cr_assert_eq(gd_config_parse_listen("0.0.0.0:0", &a, why, sizeof why), 0);
    cr_assert_eq(gd_config_parse_listen("1.2.3.4:", &a, why, sizeof why), GD_EINVAL);
    cr_assert_eq(gd_config_parse_listen("1.2.3.4:+80", &a, why, sizeof why), GD_EINVAL);
    cr_assert_eq(gd_config_parse_listen("[::1]80", &a, why, sizeof why), GD_EINVAL);
    cr_assert_eq(gd_config_parse_listen("[zz]:80", &a, why, sizeof why), GD_EINVAL);
    cr_assert_eq(gd_config_parse_listen(":80", &a, why, sizeof why), GD_EINVAL);
}

/* ---- sharing ----------------------------------------------------------------------------- */

struct holder_arg {
    struct gd_config_holder *h;
    int iters;
};

static void *reader(void *p)
{
    struct holder_arg *a = p;
    for (int i = 0; i < a->iters; i++) {
        struct gd_config *c = gd_config_holder_get(a->h);
        cr_assert(c->threads == 1 || c->threads == 2);
        gd_config_unref(c);
    }
    return NULL;
}

Test(config, holder_swaps_while_readers_hold_references)
{
    char errs[256];
    struct gd_config *c1, *c2;
    cr_assert_eq(load("threads: 1\n", NULL, &c1, errs, sizeof errs), 0);
    struct gd_config_holder h;
    gd_config_holder_init(&h, c1);
    struct gd_config *held = gd_config_holder_get(&h);
    struct holder_arg arg = {&h, 20000};
    pthread_t t[3];
    for (int i = 0; i < 3; i++)
        pthread_create(&t[i], NULL, reader, &arg);
    for (int i = 0; i < 200; i++) {
        cr_assert_eq(load(i % 2 ? "threads: 1\n" : "threads: 2\n", NULL, &c2, errs, sizeof errs),
                     0);
        gd_config_holder_set(&h, c2);
    }
    for (int i = 0; i < 3; i++)
        pthread_join(t[i], NULL);
    cr_assert_eq(held->threads, 1); /* the old one is still alive */
    gd_config_unref(held);
    gd_config_holder_destroy(&h);
}

Test(config, allocation_failures_are_clean)
{
    /* Every allocation of a load fails in turn: the loader returns an error, never crashes
     * (and ASan sees no leak). */
    const char *y = "listen: 127.0.0.1:1\nlimits: {max_headers: 5}\naccess_log: {path: /x}\n";
    for (uint64_t n = 1; n < 200; n++) {
        struct gd_config_diag d;
        gd_config_diag_init(&d, "t");
        struct gd_config *c = NULL;
        gd_alloc_fail_after(n);
        int rc = gd_config_load_mem(y, strlen(y), "t", NULL, &d, &c);
        gd_alloc_fail_after(0);
        if (rc == 0)
            gd_config_unref(c);
        else
            cr_assert_null(c);
        gd_config_diag_free(&d);
    }
}

Test(config, many_errors_are_capped_and_counted)
{
    struct gd_buf y;
    gd_buf_init(&y, 1 << 20);
    for (int i = 0; i < 20000; i++)
        gd_buf_printf(&y, "bad_key_%d: %d\n", i, i);
    struct gd_config_diag d;
    gd_config_diag_init(&d, "big.yaml");
    struct gd_config *c = NULL;
    cr_assert_eq(gd_config_load_mem(y.data, y.len, "big.yaml", NULL, &d, &c), GD_EINVAL);
    cr_assert_eq(d.n, GD_CONFIG_MAX_ERRORS);
    cr_assert_eq(d.dropped, 20000 - GD_CONFIG_MAX_ERRORS);
    struct gd_buf out;
    gd_buf_init(&out, 1 << 20);
    gd_config_diag_format_all(&d, &out);
    cr_assert_not_null(strstr(out.data, "big.yaml: 19936 more error(s) not shown\n"));
    gd_buf_free(&out);
    gd_buf_free(&y);
    gd_config_diag_free(&d);
}
