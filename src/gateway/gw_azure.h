/* Azure OpenAI addressing (provider `type: azure`, see docs/gateway.md "Provider types").
 *
 * Azure speaks OpenAI's bodies, answers and errors (plus its content-filter fields, which
 * pass through untouched), so a request to it is OpenAI's with another URL and header:
 *
 *   {base_url}/openai/deployments/{deployment}/chat/completions?api-version={api_version}
 *   (also /completions and /embeddings), the deployment being the deployment's `model:`;
 *   `api-key: <api_key>`, or `Authorization: Bearer <api_key>` with `auth: entra`.
 *
 * Pure functions over immutable config; thread-safe. */
#ifndef GD_GATEWAY_GW_AZURE_H
#define GD_GATEWAY_GW_AZURE_H

#include "core/buf.h"
#include "gateway/gw_adapter.h"
#include "gateway/gw_config.h"

/* Appends the path after base_url for request kind (0 chat, 1 completions, 2 embeddings)
 * to deployment model of p to out (out NULL: only whether the kind is served). The
 * deployment name is percent-encoded outside RFC 3986's unreserved characters. 0,
 * GD_ENOTSUP (unknown kind) or GD_ENOMEM (out's cap). */
int gd_gw_azure_path(const struct gd_gw_provider_cfg *p, int kind, const char *model, int stream,
                     struct gd_buf *out);

/* The authentication header through add (none when p has no api_key). 0 or add's error. */
int gd_gw_azure_headers(const struct gd_gw_provider_cfg *p, gw_header_fn add, void *ud);

#endif
