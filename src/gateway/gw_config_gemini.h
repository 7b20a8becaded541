/* The `gemini:` map of a provider of type gemini (see docs/gateway.md "Provider type
 * gemini"): which Google API form it speaks and, for Vertex AI, the project and location
 * that go in the URL.
 *
 *   gemini:
 *     api: studio | vertex     # default studio (Google AI Studio, x-goog-api-key)
 *     project: my-project      # vertex only, required
 *     location: us-central1    # vertex only, required
 *
 * Immutable once parsed (shared by every loop thread). */
#ifndef GD_GATEWAY_GW_CONFIG_GEMINI_H
#define GD_GATEWAY_GW_CONFIG_GEMINI_H

#include "core/config.h"

struct gd_gw_gemini_cfg {
    int vertex;     /* 1: Vertex AI URL form and Bearer token; 0: AI Studio */
    char *project;  /* vertex: [a-z0-9-], else NULL */
    char *location; /* vertex: [a-z0-9-], else NULL */
};

/* Parses provider map p's `gemini:` (absent: AI Studio) into *out (newly allocated, owned by
 * the caller: free with gd_gw_gemini_cfg_free). 0, GD_EINVAL (diagnostics added) or
 * GD_ENOMEM. */
int gd_gw_gemini_cfg_parse(struct gd_config_diag *d, const struct gd_yaml_node *p,
                           struct gd_gw_gemini_cfg **out);

void gd_gw_gemini_cfg_free(struct gd_gw_gemini_cfg *g);

#endif
