/* Parsing of the gateway's `cache:` section (gw_cache.h). */
#include "gateway/gw_cache.h"
#include "gateway/gw_config.h"
#include "core/alloc.h"
#include "girder/error.h"

#include <stdbool.h>
#include <string.h>

static const char *const cache_keys[] = {"ttl",    "max_bytes", "max_entry_bytes",
                                         "shared", "aliases",   NULL};

static int parse_aliases(struct gd_config_diag *d, const struct gd_yaml_node *m,
                         const struct gd_gw_config *gc, struct gd_gw_cache_config *cc)
{
    const struct gd_yaml_node *seq = NULL;
    int rc = gd_config_get_seq(d, m, "aliases", &seq);
    if (rc || !seq)
        return rc;
    if (!(cc->aliases = gd_calloc(gc->n_aliases ? gc->n_aliases : 1, 1)))
        return GD_ENOMEM;
    for (size_t i = 0; i < seq->n; i++) {
        const struct gd_yaml_node *n = seq->items[i];
        int a = n->kind == GD_YAML_SCALAR ? gd_gw_config_find_alias(gc, n->str, n->len) : -1;
        if (a < 0) {
            gd_config_diag_add(d, n, NULL, "cache.aliases: '%s' is not a model alias",
                               n->kind == GD_YAML_SCALAR ? n->str : "?");
            rc = GD_EINVAL;
        } else {
            cc->aliases[a] = 1;
        }
    }
    return rc;
}

int gd_gw_cache_config_parse(const struct gd_yaml_node *root, struct gd_config_diag *d,
                             const struct gd_gw_config *gc, struct gd_gw_cache_config **out)
{
    const struct gd_yaml_node *m = NULL;
    *out = NULL;
    int rc = gd_config_get_map(d, root, "cache", &m);
    if (rc || !m)
        return rc;
    struct gd_gw_cache_config *cc = gd_calloc(1, sizeof *cc);
    if (!cc)
        return GD_ENOMEM;
    *cc = (struct gd_gw_cache_config){300000, 64u << 20, 1u << 20, 0, NULL};
    bool shared = false;
    rc = gd_config_check_keys(d, m, cache_keys);
    rc |= gd_config_get_duration_ms(d, m, "ttl", 1, 30ull * 24 * 3600 * 1000, &cc->ttl_ms);
    rc |= gd_config_get_size(d, m, "max_bytes", 4096, (uint64_t)1 << 40, &cc->max_bytes);
    rc |= gd_config_get_size(d, m, "max_entry_bytes", 1, (uint64_t)1 << 30, &cc->max_entry_bytes);
    rc |= gd_config_get_bool(d, m, "shared", &shared);
    cc->shared = shared;
    int arc = parse_aliases(d, m, gc, cc);
    if (rc == 0 && arc == 0 && cc->max_entry_bytes > cc->max_bytes) {
        gd_config_diag_add(d, gd_yaml_map_get(m, "max_entry_bytes"), "max_entry_bytes",
                           "max_entry_bytes is larger than max_bytes");
        rc = GD_EINVAL;
    }
    if (rc || arc) {
        gd_gw_cache_config_free(cc);
        return arc == GD_ENOMEM ? arc : GD_EINVAL;
    }
    *out = cc;
    return 0;
}

void gd_gw_cache_config_free(struct gd_gw_cache_config *cc)
{
    if (!cc)
        return;
    gd_free(cc->aliases);
    gd_free(cc);
}
