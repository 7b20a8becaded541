/* The `gemini:` provider map (see gw_config_gemini.h). */
#include "gateway/gw_config_gemini.h"
#include "core/alloc.h"
#include "girder/error.h"

#include <string.h>

static const char *const gemini_keys[] = {"api", "project", "location", NULL};
static const char *const apis[] = {"studio", "vertex", NULL};

/* A URL path segment Google accepts for project ids and locations: [a-z0-9-], 1-63 bytes. */
static int segment_ok(const char *s)
{
    size_t n = strlen(s);
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '-'))
            return 0;
    return n > 0 && n <= 63;
}

static int get_segment(struct gd_config_diag *d, const struct gd_yaml_node *m, const char *key,
                       int vertex, char **out)
{
    const char *v = NULL;
    if (gd_config_get_string(d, m, key, 64, &v, NULL) != 0)
        return GD_EINVAL;
    if (!vertex && v) {
        gd_config_diag_add(d, gd_yaml_map_get(m, key), key, "%s is only for api: vertex", key);
        return GD_EINVAL;
    }
    if (!vertex)
        return 0;
    if (!v) {
        gd_config_diag_add(d, m, key, "api: vertex needs %s", key);
        return GD_EINVAL;
    }
    if (!segment_ok(v)) {
        gd_config_diag_add(d, gd_yaml_map_get(m, key), key,
                           "expected lowercase letters, digits and '-' (at most 63)");
        return GD_EINVAL;
    }
    return (*out = gd_strdup(v)) ? 0 : GD_ENOMEM;
}

int gd_gw_gemini_cfg_parse(struct gd_config_diag *d, const struct gd_yaml_node *p,
                           struct gd_gw_gemini_cfg **out)
{
    const struct gd_yaml_node *m = NULL;
    int api = 0;
    *out = NULL;
    int rc = gd_config_get_map(d, p, "gemini", &m);
    if (rc == 0 && m) {
        rc = gd_config_check_keys(d, m, gemini_keys);
        rc |= gd_config_get_enum(d, m, "api", apis, &api);
    }
    if (rc)
        return GD_EINVAL;
    struct gd_gw_gemini_cfg *g = gd_calloc(1, sizeof *g);
    if (!g)
        return GD_ENOMEM;
    g->vertex = api == 1;
    int prc = m ? get_segment(d, m, "project", g->vertex, &g->project) : 0;
    int lrc = m ? get_segment(d, m, "location", g->vertex, &g->location) : 0;
    if (prc || lrc) {
        gd_gw_gemini_cfg_free(g);
        return prc == GD_ENOMEM || lrc == GD_ENOMEM ? GD_ENOMEM : GD_EINVAL;
    }
    *out = g;
    return 0;
}

void gd_gw_gemini_cfg_free(struct gd_gw_gemini_cfg *g)
{
    if (!g)
        return;
    gd_free(g->project);
    gd_free(g->location);
    gd_free(g);
}
