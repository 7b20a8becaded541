/* The provider keys of `type: azure` (Azure OpenAI, see docs/gateway.md "Provider types"):
 *
 *   api_version  the `api-version` query every request carries; required for azure
 *                (letters, digits, '-', '_', '.': it goes into the URL as is)
 *   auth         api-key (default: `api-key: <api_key>` header) | entra (`Authorization:
 *                Bearer <api_key>`, api_key holding a Microsoft Entra ID access token)
 *
 * Both are refused on other provider types, so a typo'd `type:` does not silently drop them.
 * base_url is the resource endpoint (https://NAME.openai.azure.com); one that already ends
 * in /openai would double that segment and is refused. */
#include "core/alloc.h"
#include "gateway/gw_config.h"
#include "girder/error.h"

#include <string.h>

/* A version such as 2024-10-21 or 2024-12-01-preview: URL-safe without encoding. */
static int version_ok(const char *v)
{
    size_t n = strlen(v);
    for (size_t i = 0; i < n; i++)
        if (!((v[i] >= '0' && v[i] <= '9') || (v[i] >= 'a' && v[i] <= 'z') ||
              (v[i] >= 'A' && v[i] <= 'Z') || v[i] == '-' || v[i] == '_' || v[i] == '.'))
            return 0;
    return n > 0;
}

/* Either key on a provider that is not azure: recorded at the key. */
static int refuse_on_other_types(struct gd_config_diag *d, const struct gd_yaml_node *p)
{
    static const char *const keys[] = {"api_version", "auth"};
    int rc = 0;
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        const struct gd_yaml_node *k = gd_yaml_map_get(p, keys[i]);
        if (k) {
            gd_config_diag_add(d, k, keys[i], "%s is only for providers of type: azure", keys[i]);
            rc = GD_EINVAL;
        }
    }
    return rc;
}

static int parse_auth(struct gd_config_diag *d, const struct gd_yaml_node *p,
                      struct gd_gw_provider_cfg *out)
{
    const char *a = NULL;
    if (gd_config_get_string(d, p, "auth", 16, &a, NULL) != 0)
        return GD_EINVAL;
    out->azure_entra = a && strcmp(a, "entra") == 0;
    if (a && !out->azure_entra && strcmp(a, "api-key") != 0) {
        gd_config_diag_add(d, gd_yaml_map_get(p, "auth"), "auth", "expected api-key or entra");
        return GD_EINVAL;
    }
    if (out->azure_entra && !out->api_key) {
        gd_config_diag_add(d, gd_yaml_map_get(p, "auth"), "auth",
                           "auth: entra needs api_key (the Entra ID access token to send)");
        return GD_EINVAL;
    }
    return 0;
}

int gd__gw_config_azure(struct gd_config_diag *d, const struct gd_yaml_node *p,
                        struct gd_gw_provider_cfg *out)
{
    const char *v = NULL;
    if (out->type != GD_GW_PROVIDER_AZURE)
        return refuse_on_other_types(d, p);
    int rc = parse_auth(d, p, out);
    size_t bn = out->base_url ? strlen(out->base_url) : 0;
    if (bn >= 7 && strcmp(out->base_url + bn - 7, "/openai") == 0) {
        gd_config_diag_add(d, gd_yaml_map_get(p, "base_url"), "base_url",
                           "an azure base_url is the resource endpoint "
                           "(https://NAME.openai.azure.com), without /openai");
        rc = GD_EINVAL;
    }
    if (gd_config_get_string(d, p, "api_version", 64, &v, NULL) != 0)
        return GD_EINVAL;
    if (!v) {
        gd_config_diag_add(d, p, "api_version",
                           "providers of type: azure need api_version (e.g. 2024-10-21)");
        return GD_EINVAL;
    }
    if (!version_ok(v)) {
        gd_config_diag_add(d, gd_yaml_map_get(p, "api_version"), "api_version",
                           "expected a version such as 2024-10-21 (letters, digits, - _ .)");
        return GD_EINVAL;
    }
    if (!(out->api_version = gd_strdup(v)))
        return GD_ENOMEM;
    return rc;
}
