/* The keys of `type: bedrock` (see gw_config_bedrock.h). */
#include "gateway/gw_config_bedrock.h"
#include "gateway/gw_config.h"
#include "core/alloc.h"
#include "girder/error.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { MAX_REGION = 32, MAX_KEY_ID = 128, MAX_SECRET = 256, MAX_TOKEN = 4096 };

static const char *const bedrock_keys[] = {"region", "aws_access_key_id", "aws_secret_access_key",
                                           "aws_session_token", NULL};

static int region_ok(const char *s)
{
    size_t n = strlen(s);
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '-'))
            return 0;
    return n > 0 && n <= MAX_REGION;
}

/* Header-safe: printable ASCII without spaces (what a SigV4 field may hold). */
static int token_ok(const char *s, size_t max)
{
    size_t n = strlen(s);
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] <= 0x20 || (unsigned char)s[i] >= 0x7f)
            return 0;
    return n > 0 && n <= max;
}

static void wipe_free(char *s)
{
    if (s)
        memset(s, 0, strlen(s));
    gd_free(s);
}

void gd_gw_bedrock_cfg_free(struct gd_gw_bedrock_cfg *b)
{
    if (!b)
        return;
    gd_free(b->region);
    gd_free(b->access_key_id);
    wipe_free(b->secret_access_key);
    wipe_free(b->session_token);
    gd_free(b);
}

static const char *env(const char *name)
{
    const char *v = getenv(name);
    return v && *v ? v : NULL;
}

/* p[key] as a string (NULL when absent or empty); GD_EINVAL when not a scalar. */
static int get(struct gd_config_diag *d, const struct gd_yaml_node *p, const char *key, size_t max,
               const char **out)
{
    *out = NULL;
    if (gd_config_get_string(d, p, key, max, out, NULL) != 0)
        return GD_EINVAL;
    if (*out && !**out)
        *out = NULL;
    return 0;
}

static int refuse_on_other_types(struct gd_config_diag *d, const struct gd_yaml_node *p)
{
    int rc = 0;
    for (int i = 0; bedrock_keys[i]; i++)
        if (gd_yaml_map_get(p, bedrock_keys[i])) {
            gd_config_diag_add(d, gd_yaml_map_get(p, bedrock_keys[i]), bedrock_keys[i],
                               "%s is only for providers of type: bedrock", bedrock_keys[i]);
            rc = GD_EINVAL;
        }
    return rc;
}

/* The credentials: both keys from the config, or both from the environment. */
static int credentials(struct gd_config_diag *d, const struct gd_yaml_node *p,
                       struct gd_gw_bedrock_cfg *b)
{
    const char *id, *secret, *token;
    int rc = get(d, p, "aws_access_key_id", MAX_KEY_ID, &id);
    rc |= get(d, p, "aws_secret_access_key", MAX_SECRET, &secret);
    rc |= get(d, p, "aws_session_token", MAX_TOKEN, &token);
    if (rc)
        return GD_EINVAL;
    if (!id != !secret) {
        const char *k = id ? "aws_secret_access_key" : "aws_access_key_id";
        gd_config_diag_add(d, p, k, "aws_access_key_id and aws_secret_access_key go together");
        return GD_EINVAL;
    }
    const char *where = "aws_access_key_id";
    if (!id) {
        id = env("AWS_ACCESS_KEY_ID");
        secret = env("AWS_SECRET_ACCESS_KEY");
        token = token ? token : env("AWS_SESSION_TOKEN");
        where = "AWS_ACCESS_KEY_ID";
    }
    if (!id || !secret) {
        gd_config_diag_add(d, p, "aws_access_key_id",
                           "type: bedrock needs aws_access_key_id and aws_secret_access_key "
                           "(or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY in the environment)");
        return GD_EINVAL;
    }
    if (!token_ok(id, MAX_KEY_ID) || !token_ok(secret, MAX_SECRET) ||
        (token && !token_ok(token, MAX_TOKEN))) {
        gd_config_diag_add(d, gd_yaml_map_get(p, "aws_access_key_id"), "aws_access_key_id",
                           "the AWS credentials (from %s) must be printable ASCII without "
                           "spaces",
                           where);
        return GD_EINVAL;
    }
    b->access_key_id = gd_strdup(id);
    b->secret_access_key = gd_strdup(secret);
    b->session_token = token ? gd_strdup(token) : NULL;
    return b->access_key_id && b->secret_access_key && (!token || b->session_token) ? 0 : GD_ENOMEM;
}

static int region(struct gd_config_diag *d, const struct gd_yaml_node *p,
                  struct gd_gw_bedrock_cfg *b)
{
    const char *r;
    if (get(d, p, "region", 64, &r) != 0)
        return GD_EINVAL;
    const char *from = r ? "region" : "AWS_REGION";
    if (!r)
        r = env("AWS_REGION");
    if (!r) {
        r = env("AWS_DEFAULT_REGION");
        from = "AWS_DEFAULT_REGION";
    }
    if (!r) {
        gd_config_diag_add(d, p, "region",
                           "type: bedrock needs region (or AWS_REGION in the environment)");
        return GD_EINVAL;
    }
    if (!region_ok(r)) {
        gd_config_diag_add(d, gd_yaml_map_get(p, "region"), "region",
                           "%s: expected an AWS region such as us-east-1 (lowercase letters, "
                           "digits and '-')",
                           from);
        return GD_EINVAL;
    }
    return (b->region = gd_strdup(r)) ? 0 : GD_ENOMEM;
}

int gd__gw_config_bedrock(struct gd_config_diag *d, const struct gd_yaml_node *p,
                          struct gd_gw_provider_cfg *out)
{
    if (out->type != GD_GW_PROVIDER_BEDROCK)
        return refuse_on_other_types(d, p);
    if (gd_yaml_map_get(p, "api_key")) {
        gd_config_diag_add(d, gd_yaml_map_get(p, "api_key"), "api_key",
                           "type: bedrock signs requests with AWS credentials "
                           "(aws_access_key_id, aws_secret_access_key), not an api_key");
        return GD_EINVAL;
    }
    struct gd_gw_bedrock_cfg *b = gd_calloc(1, sizeof *b);
    if (!b)
        return GD_ENOMEM;
    int rrc = region(d, p, b), crc = credentials(d, p, b);
    if (rrc || crc) {
        gd_gw_bedrock_cfg_free(b);
        return rrc == GD_ENOMEM || crc == GD_ENOMEM ? GD_ENOMEM : GD_EINVAL;
    }
    out->bedrock = b;
    if (out->base_url)
        return 0;
    char url[96];
    snprintf(url, sizeof url, "https://bedrock-runtime.%s.amazonaws.com", b->region);
    return (out->base_url = gd_strdup(url)) ? 0 : GD_ENOMEM;
}
