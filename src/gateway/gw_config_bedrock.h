/* The keys of a provider of `type: bedrock` (AWS Bedrock Runtime, Converse API; see
 * docs/gateway.md "Provider type bedrock"):
 *
 *   region: us-east-1               # else AWS_REGION, else AWS_DEFAULT_REGION; required
 *   aws_access_key_id: AKIA...      # with aws_secret_access_key, or both from the
 *   aws_secret_access_key: ...      #   environment (AWS_ACCESS_KEY_ID/_SECRET_ACCESS_KEY)
 *   aws_session_token: ...          # optional (else AWS_SESSION_TOKEN with env keys)
 *   base_url: https://...           # default https://bedrock-runtime.{region}.amazonaws.com
 *
 * The environment is read when the config is loaded. These keys are refused on other
 * provider types, and api_key on this one. The secret and the token are SECRET: never
 * logged, wiped when freed. Immutable once parsed (shared by every loop thread). */
#ifndef GD_GATEWAY_GW_CONFIG_BEDROCK_H
#define GD_GATEWAY_GW_CONFIG_BEDROCK_H

#include "core/config.h"

struct gd_gw_provider_cfg;

struct gd_gw_bedrock_cfg {
    char *region;            /* [a-z0-9-], e.g. us-east-1 */
    char *access_key_id;     /* printable, no spaces */
    char *secret_access_key; /* SECRET */
    char *session_token;     /* SECRET; NULL: long-term keys */
};

/* Checks the bedrock keys of provider map p (refusing them unless out->type is bedrock)
 * and, for bedrock, fills out->bedrock (owned by out: gd_gw_bedrock_cfg_free) and, when p
 * has no base_url, out->base_url. 0, GD_EINVAL (diagnostics added) or GD_ENOMEM. */
int gd__gw_config_bedrock(struct gd_config_diag *d, const struct gd_yaml_node *p,
                          struct gd_gw_provider_cfg *out);

void gd_gw_bedrock_cfg_free(struct gd_gw_bedrock_cfg *b);

#endif
