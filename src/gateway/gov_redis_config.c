/* The `governance: redis:` section (see gov_redis_config.h). */
#include "gateway/gov_redis_config.h"
#include "core/alloc.h"
#include "girder/error.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const redis_keys[] = {"url",
                                         "password",
                                         "timeout_ms",
                                         "key_prefix",
                                         "failure",
                                         "lease_ms",
                                         "limits",
                                         "keys",
                                         "key_cache_ms",
                                         "key_negative_cache_ms",
                                         "key_cache_size",
                                         NULL};
static const char *const limit_modes[] = {"redis", "local", NULL};
static const char *const failures[] = {"open", "closed", NULL};

void gd_gov_redis_config_free(struct gd_gov_redis_cfg *c)
{
    if (!c)
        return;
    if (c->password) {
        volatile char *p = c->password;
        while (*p)
            *p++ = 0;
    }
    gd_free(c->password);
    gd_free(c->host);
    gd_free(c->path);
    gd_free(c->key_prefix);
    gd_free(c->where);
    gd_free(c);
}

static int parse_port_db(const char *s, const char *end, long min, long max, long *out)
{
    if (s == end || end - s > 6)
        return -1;
    long v = 0;
    for (const char *p = s; p < end; p++) {
        if (*p < '0' || *p > '9')
            return -1;
        v = v * 10 + (*p - '0');
    }
    if (v < min || v > max)
        return -1;
    *out = v;
    return 0;
}

/* redis://host[:port][/db], unix:/path or /path. 0, 1 (malformed: msg set) or GD_ENOMEM. */
static int parse_url(const char *url, struct gd_gov_redis_cfg *c, const char **msg)
{
    *msg = "expected redis://host[:port][/db], unix:/path/to.sock or /path/to.sock";
    if (url[0] == '/' || strncmp(url, "unix:", 5) == 0) {
        const char *p = url[0] == '/' ? url : url + 5;
        if (p[0] != '/' || strlen(p) > 107) {
            *msg = "a unix socket path must be absolute and at most 107 bytes";
            return 1;
        }
        return (c->path = gd_strdup(p)) ? 0 : GD_ENOMEM;
    }
    if (strncmp(url, "redis://", 8) != 0)
        return 1;
    const char *h = url + 8, *slash = strchr(h, '/');
    const char *hend = slash ? slash : h + strlen(h);
    if (memchr(h, '@', (size_t)(hend - h))) {
        *msg = "put the password in 'password', not in the url";
        return 1;
    }
    const char *colon = h;
    if (*h == '[') { /* [v6]:port */
        const char *rb = memchr(h, ']', (size_t)(hend - h));
        if (!rb)
            return 1;
        colon = rb + 1;
        h++;
        if (!(c->host = gd_strndup(h, (size_t)(rb - h))))
            return GD_ENOMEM;
        if (colon < hend && *colon != ':')
            return 1;
    } else {
        colon = memchr(h, ':', (size_t)(hend - h));
        const char *e = colon ? colon : hend;
        if (e == h)
            return 1;
        if (!(c->host = gd_strndup(h, (size_t)(e - h))))
            return GD_ENOMEM;
    }
    long v = 6379;
    if (colon && colon < hend && parse_port_db(colon + 1, hend, 1, 65535, &v) != 0) {
        *msg = "the port must be 1..65535";
        return 1;
    }
    c->port = (int)v;
    v = 0;
    if (slash && slash[1] && parse_port_db(slash + 1, slash + strlen(slash), 0, 1023, &v) != 0) {
        *msg = "the database must be a number 0..1023";
        return 1;
    }
    c->db = (int)v;
    return 0;
}

static int check_prefix(const char *s)
{
    if (!*s || strlen(s) > GD_GOV_REDIS_MAX_PREFIX)
        return -1;
    for (const char *p = s; *p; p++)
        if (*p == '{' || *p == '}' || (unsigned char)*p <= ' ' || (unsigned char)*p >= 127)
            return -1;
    return 0;
}

int gd_gov_redis_config_parse(const struct gd_yaml_node *gov, struct gd_config_diag *d,
                              struct gd_gov_redis_cfg **out)
{
    const struct gd_yaml_node *m = NULL;
    *out = NULL;
    int rc = gd_config_get_map(d, gov, "redis", &m);
    if (rc || !m)
        return rc;
    struct gd_gov_redis_cfg *c = gd_calloc(1, sizeof *c);
    if (!c)
        return GD_ENOMEM;
    c->timeout_ms = 50;
    c->lease_ms = 600000;
    c->key_cache_ms = 5000;
    c->key_negative_cache_ms = 1000;
    c->key_cache_size = 10000;
    int fail = GD_GOV_FAIL_OPEN, mode = 0;
    int64_t cache_size = (int64_t)c->key_cache_size;
    const char *url = NULL, *pw = NULL, *prefix = "girder";
    rc = gd_config_check_keys(d, m, redis_keys);
    rc |= gd_config_get_string(d, m, "url", GD_GOV_REDIS_MAX_URL, &url, NULL);
    rc |= gd_config_get_string(d, m, "password", 512, &pw, NULL);
    rc |= gd_config_get_duration_ms(d, m, "timeout_ms", 1, 60000, &c->timeout_ms);
    rc |= gd_config_get_duration_ms(d, m, "lease_ms", 1000, 86400000, &c->lease_ms);
    rc |= gd_config_get_string(d, m, "key_prefix", 1024, &prefix, NULL);
    rc |= gd_config_get_enum(d, m, "failure", failures, &fail);
    c->failure = (enum gd_gov_redis_failure)fail;
    rc |= gd_config_get_enum(d, m, "limits", limit_modes, &mode);
    c->local_limits = mode == 1;
    rc |= gd_config_get_bool(d, m, "keys", &c->keys);
    rc |= gd_config_get_duration_ms(d, m, "key_cache_ms", 0, 3600000, &c->key_cache_ms);
    rc |= gd_config_get_duration_ms(d, m, "key_negative_cache_ms", 0, 3600000,
                                    &c->key_negative_cache_ms);
    rc |= gd_config_get_int(d, m, "key_cache_size", 1, 1000000, &cache_size);
    c->key_cache_size = (size_t)cache_size;
    if (c->key_negative_cache_ms > c->key_cache_ms && gd_yaml_map_get(m, "key_negative_cache_ms")) {
        gd_config_diag_add(d, gd_yaml_map_get(m, "key_negative_cache_ms"), NULL,
                           "must not exceed key_cache_ms");
        rc = GD_EINVAL;
    }
    if (c->key_negative_cache_ms > c->key_cache_ms)
        c->key_negative_cache_ms = c->key_cache_ms;
    if (prefix && check_prefix(prefix) != 0) {
        gd_config_diag_add(d, gd_yaml_map_get(m, "key_prefix"), NULL,
                           "1 to %d printable bytes without spaces, '{' or '}'",
                           GD_GOV_REDIS_MAX_PREFIX);
        rc = GD_EINVAL;
    }
    if (!url) {
        char path[128];
        snprintf(path, sizeof path, "%s%surl", m->path, *m->path ? "." : "");
        gd_config_diag_add(d, m, path, "required: redis://host[:port][/db] or a unix socket path");
        rc = GD_EINVAL;
    } else {
        const char *msg;
        int urc = parse_url(url, c, &msg);
        if (urc == GD_ENOMEM) {
            gd_gov_redis_config_free(c);
            return GD_ENOMEM;
        }
        if (urc != 0) {
            gd_config_diag_add(d, gd_yaml_map_get(m, "url"), NULL, "%s", msg);
            rc = GD_EINVAL;
        }
    }
    if (rc == 0) {
        char w[GD_GOV_REDIS_MAX_URL + 32];
        if (c->path)
            snprintf(w, sizeof w, "%s", c->path);
        else
            snprintf(w, sizeof w, "%s:%d/%d", c->host, c->port, c->db);
        c->key_prefix = gd_strdup(prefix);
        c->where = gd_strdup(w);
        c->password = pw && *pw ? gd_strdup(pw) : NULL;
        if (!c->key_prefix || !c->where || (pw && *pw && !c->password)) {
            gd_gov_redis_config_free(c);
            return GD_ENOMEM;
        }
    }
    if (rc != 0) {
        gd_gov_redis_config_free(c);
        return GD_EINVAL;
    }
    *out = c;
    return 0;
}

static int same_str(const char *a, const char *b)
{
    return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

int gd_gov_redis_config_same_server(const struct gd_gov_redis_cfg *a,
                                    const struct gd_gov_redis_cfg *b)
{
    return same_str(a->host, b->host) && a->port == b->port && same_str(a->path, b->path) &&
           a->db == b->db && same_str(a->password, b->password);
}
