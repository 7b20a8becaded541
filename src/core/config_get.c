/* Typed getters over YAML map nodes, shared by the foundation schema (config.c) and every
 * module's config section. Their contract: absent or null → 0 and *out untouched (the caller
 * set the default), valid → stored, invalid → one error naming the key path and, unless it
 * came from the environment, the offending value. */
#include "core/config.h"
#include "girder/error.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Writes how to show node's value in a message: 'text' (shortened, escaped), "a map", or
 * "a value from the environment" for secrets. */
static void describe(const struct gd_yaml_node *n, char *buf, size_t size)
{
    if (n->kind != GD_YAML_SCALAR) {
        snprintf(buf, size, "%s", gd_yaml_kind_name(n->kind));
        return;
    }
    if (n->flags & GD_YAML_F_SECRET) {
        snprintf(buf, size, "a value from the environment (not shown)");
        return;
    }
    size_t o = 0;
    buf[o++] = '\'';
    for (size_t i = 0; i < n->len && o + 6 < size; i++) {
        unsigned char ch = (unsigned char)n->str[i];
        if (i == 40) {
            o += (size_t)snprintf(buf + o, size - o, "...");
            break;
        }
        if (ch < 0x20 || ch == 0x7f)
            o += (size_t)snprintf(buf + o, size - o, "\\x%02x", ch);
        else
            buf[o++] = (char)ch;
    }
    snprintf(buf + o, size - o, "'");
}

/* The scalar at map[key] in *out, or 0 with *out NULL when absent/null; error on wrong kind. */
static int get_scalar(struct gd_config_diag *d, const struct gd_yaml_node *map, const char *key,
                      const char *what, const struct gd_yaml_node **out)
{
    const struct gd_yaml_node *n = gd_yaml_map_get(map, key);
    *out = NULL;
    if (gd_yaml_is_null(n))
        return 0;
    if (n->kind != GD_YAML_SCALAR) {
        gd_config_diag_add(d, n, NULL, "expected %s, got %s", what, gd_yaml_kind_name(n->kind));
        return GD_EINVAL;
    }
    *out = n;
    return 0;
}

static int bad_value(struct gd_config_diag *d, const struct gd_yaml_node *n, const char *what)
{
    char v[64];
    describe(n, v, sizeof v);
    gd_config_diag_add(d, n, NULL, "expected %s, got %s", what, v);
    return GD_EINVAL;
}

/* Parses a decimal integer that fills the whole string. */
static int parse_i64(const char *s, size_t len, int64_t *out)
{
    if (len == 0 || strlen(s) != len || isspace((unsigned char)s[0]))
        return -1;
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || *end)
        return -1;
    *out = v;
    return 0;
}

int gd_config_get_int(struct gd_config_diag *d, const struct gd_yaml_node *map, const char *key,
                      int64_t min, int64_t max, int64_t *out)
{
    const struct gd_yaml_node *n;
    char what[96];
    snprintf(what, sizeof what, "an integer from %lld to %lld", (long long)min, (long long)max);
    int rc = get_scalar(d, map, key, what, &n);
    if (rc || !n)
        return rc;
    int64_t v;
    if (parse_i64(n->str, n->len, &v) || v < min || v > max)
        return bad_value(d, n, what);
    *out = v;
    return 0;
}

int gd_config_get_bool(struct gd_config_diag *d, const struct gd_yaml_node *map, const char *key,
                       bool *out)
{
    static const char *const yes[] = {"true", "yes", "on"}, *const no[] = {"false", "no", "off"};
    const struct gd_yaml_node *n;
    int rc = get_scalar(d, map, key, "true or false", &n);
    if (rc || !n)
        return rc;
    for (int i = 0; i < 3; i++) {
        if (strcasecmp(n->str, yes[i]) == 0 || strcasecmp(n->str, no[i]) == 0) {
            *out = strcasecmp(n->str, yes[i]) == 0;
            return 0;
        }
    }
    return bad_value(d, n, "true or false");
}

int gd_config_get_string(struct gd_config_diag *d, const struct gd_yaml_node *map,
                         const char *key, size_t max_len, const char **out, bool *is_secret)
{
    const struct gd_yaml_node *n;
    int rc = get_scalar(d, map, key, "a string", &n);
    if (rc || !n)
        return rc;
    if (n->len > max_len) {
        gd_config_diag_add(d, n, NULL, "longer than %zu bytes", max_len);
        return GD_EINVAL;
    }
    if (strlen(n->str) != n->len) {
        gd_config_diag_add(d, n, NULL, "contains a NUL byte");
        return GD_EINVAL;
    }
    *out = n->str;
    if (is_secret)
        *is_secret = (n->flags & GD_YAML_F_SECRET) != 0;
    return 0;
}

int gd_config_get_enum(struct gd_config_diag *d, const struct gd_yaml_node *map, const char *key,
                       const char *const *names, int *out)
{
    char what[200];
    size_t o = (size_t)snprintf(what, sizeof what, "one of");
    for (int i = 0; names[i] && o < sizeof what; i++)
        o += (size_t)snprintf(what + o, sizeof what - o, "%s %s", i ? "," : "", names[i]);
    const struct gd_yaml_node *n;
    int rc = get_scalar(d, map, key, what, &n);
    if (rc || !n)
        return rc;
    for (int i = 0; names[i]; i++) {
        if (strcmp(n->str, names[i]) == 0 && strlen(names[i]) == n->len) {
            *out = i;
            return 0;
        }
    }
    const char *s = (n->flags & GD_YAML_F_SECRET) ? NULL : gd_config_suggest(n->str, names);
    if (!s)
        return bad_value(d, n, what);
    char v[64];
    describe(n, v, sizeof v);
    gd_config_diag_add(d, n, NULL, "expected %s, got %s (did you mean '%s'?)", what, v, s);
    return GD_EINVAL;
}

struct unit {
    const char *name;
    uint64_t mult;
};

/* "<digits>[ ]<unit>" with unit from units (an empty name matches a bare number). */
static int parse_with_unit(const struct gd_yaml_node *n, const struct unit *units, uint64_t *out)
{
    const char *s = n->str;
    if (strlen(s) != n->len || !isdigit((unsigned char)s[0]))
        return -1;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno)
        return -1;
    if (*end == ' ')
        end++;
    for (const struct unit *u = units; u->name; u++) {
        if (strcmp(end, u->name) == 0) {
            if (u->mult && v > UINT64_MAX / u->mult)
                return -1;
            *out = v * u->mult;
            return 0;
        }
    }
    return -1;
}

static int get_scaled(struct gd_config_diag *d, const struct gd_yaml_node *map, const char *key,
                      const struct unit *units, const char *what, uint64_t min, uint64_t max,
                      uint64_t *out)
{
    const struct gd_yaml_node *n;
    int rc = get_scalar(d, map, key, what, &n);
    if (rc || !n)
        return rc;
    uint64_t v;
    if (parse_with_unit(n, units, &v))
        return bad_value(d, n, what);
    if (v < min || v > max) {
        char val[64];
        describe(n, val, sizeof val);
        gd_config_diag_add(d, n, NULL, "%s is out of range (allowed %llu to %llu)", val,
                           (unsigned long long)min, (unsigned long long)max);
        return GD_EINVAL;
    }
    *out = v;
    return 0;
}

int gd_config_get_duration_ms(struct gd_config_diag *d, const struct gd_yaml_node *map,
                              const char *key, uint64_t min, uint64_t max, uint64_t *out)
{
    static const struct unit units[] = {{"", 1},        {"ms", 1},         {"s", 1000},
                                        {"m", 60000},   {"h", 3600000},    {NULL, 0}};
    return get_scaled(d, map, key, units,
                      "a duration (milliseconds, or a number with ms, s, m or h)", min, max, out);
}

int gd_config_get_size(struct gd_config_diag *d, const struct gd_yaml_node *map, const char *key,
                       uint64_t min, uint64_t max, uint64_t *out)
{
    static const struct unit units[] = {
        {"", 1},          {"B", 1},          {"k", 1u << 10},   {"K", 1u << 10},
        {"KB", 1u << 10}, {"KiB", 1u << 10}, {"M", 1u << 20},   {"MB", 1u << 20},
        {"MiB", 1u << 20}, {"G", 1u << 30},  {"GB", 1u << 30},  {"GiB", 1u << 30},
        {NULL, 0}};
    return get_scaled(d, map, key, units, "a size (bytes, or a number with KiB, MiB or GiB)",
                      min, max, out);
}

static int get_kind(struct gd_config_diag *d, const struct gd_yaml_node *map, const char *key,
                    enum gd_yaml_kind kind, const struct gd_yaml_node **out)
{
    const struct gd_yaml_node *n = gd_yaml_map_get(map, key);
    *out = NULL;
    if (gd_yaml_is_null(n))
        return 0;
    if (gd_config_expect_kind(d, n, kind))
        return GD_EINVAL;
    *out = n;
    return 0;
}

int gd_config_get_map(struct gd_config_diag *d, const struct gd_yaml_node *map, const char *key,
                      const struct gd_yaml_node **out)
{
    return get_kind(d, map, key, GD_YAML_MAP, out);
}

int gd_config_get_seq(struct gd_config_diag *d, const struct gd_yaml_node *map, const char *key,
                      const struct gd_yaml_node **out)
{
    return get_kind(d, map, key, GD_YAML_SEQ, out);
}

int gd_config_expect_kind(struct gd_config_diag *d, const struct gd_yaml_node *node,
                          enum gd_yaml_kind kind)
{
    if (node && node->kind == kind)
        return 0;
    if (!node) {
        gd_config_diag_add(d, NULL, NULL, "expected %s", gd_yaml_kind_name(kind));
        return GD_EINVAL;
    }
    char v[64];
    describe(node, v, sizeof v);
    gd_config_diag_add(d, node, NULL, "expected %s, got %s", gd_yaml_kind_name(kind), v);
    return GD_EINVAL;
}

/* Optimal string alignment distance (Levenshtein plus adjacent transpositions), capped:
 * returns > cap as soon as it is certain. Case-insensitive. */
static size_t edit_distance(const char *a, const char *b, size_t cap)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la > 64 || lb > 64)
        return cap + 1;
    if ((la > lb ? la - lb : lb - la) > cap)
        return cap + 1;
    size_t rows[3][65];
    size_t *pp = rows[0], *p = rows[1], *c = rows[2];
    for (size_t j = 0; j <= lb; j++)
        p[j] = j;
    for (size_t i = 1; i <= la; i++) {
        c[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            int same = tolower((unsigned char)a[i - 1]) == tolower((unsigned char)b[j - 1]);
            size_t v = p[j - 1] + !same;
            if (p[j] + 1 < v)
                v = p[j] + 1;
            if (c[j - 1] + 1 < v)
                v = c[j - 1] + 1;
            if (i > 1 && j > 1 && tolower((unsigned char)a[i - 1]) == tolower((unsigned char)b[j - 2]) &&
                tolower((unsigned char)a[i - 2]) == tolower((unsigned char)b[j - 1]) && pp[j - 2] + 1 < v)
                v = pp[j - 2] + 1;
            c[j] = v;
        }
        size_t *t = pp;
        pp = p, p = c, c = t;
    }
    return p[lb];
}

const char *gd_config_suggest(const char *word, const char *const *candidates)
{
    size_t len = strlen(word);
    size_t cap = len <= 3 ? 1 : len <= 8 ? 2 : 3;
    const char *best = NULL;
    size_t best_d = cap + 1;
    for (size_t i = 0; candidates[i]; i++) {
        size_t dist = edit_distance(word, candidates[i], cap);
        /* A truncated or extended word ("max_body" for "max_body_bytes", "warning" for
         * "warn") is a plausible slip too. */
        size_t clen = strlen(candidates[i]);
        if (dist > cap && ((len >= 4 && strncasecmp(candidates[i], word, len) == 0) ||
                           (clen >= 4 && strncasecmp(candidates[i], word, clen) == 0)))
            dist = cap;
        if (dist < best_d && dist < strlen(candidates[i])) {
            best = candidates[i];
            best_d = dist;
        }
    }
    return best;
}

int gd_config_check_keys(struct gd_config_diag *d, const struct gd_yaml_node *map,
                         const char *const *allowed)
{
    if (!map || map->kind != GD_YAML_MAP)
        return 0;
    int rc = 0;
    for (size_t i = 0; i < map->n; i++) {
        const struct gd_yaml_node *k = map->pairs[i].key;
        int known = 0;
        for (size_t j = 0; allowed[j] && !known; j++)
            known = strlen(allowed[j]) == k->len && memcmp(allowed[j], k->str, k->len) == 0;
        if (known)
            continue;
        const char *where = map->path[0] ? map->path : "<root>";
        /* no suggestion work once the error list is full (a file of 50,000 bad keys) */
        const char *s = d->n < GD_CONFIG_MAX_ERRORS ? gd_config_suggest(k->str, allowed) : NULL;
        if (s)
            gd_config_diag_add(d, k, NULL, "unknown key in %s (did you mean '%s'?)", where, s);
        else
            gd_config_diag_add(d, k, NULL, "unknown key in %s", where);
        rc = GD_EINVAL;
    }
    return rc;
}
