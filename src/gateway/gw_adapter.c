/* The adapter table per provider type (see gw_adapter.h). */
#include "gateway/gw_adapter.h"
#include "gateway/gw_azure.h"
#include "core/json_write.h"
#include "girder/error.h"

#include <string.h>

static int anth_path(const struct gd_gw_provider_cfg *p, int kind, const char *model, int stream,
                     struct gd_buf *out)
{
    (void)p, (void)model, (void)stream;
    if (kind != 0)
        return GD_ENOTSUP; /* the Messages API has chat only */
    return out ? gd_buf_puts(out, "/messages") : 0;
}

static int anth_headers(const struct gd_gw_provider_cfg *p, gw_header_fn add, void *ud)
{
    const char *v = p->anthropic_version ? p->anthropic_version : "2023-06-01";
    int rc = add(ud, "anthropic-version: ", v, strlen(v));
    if (rc == 0 && p->api_key)
        rc = add(ud, "x-api-key: ", p->api_key, strlen(p->api_key));
    return rc;
}

static void anth_stream_init(union gw_adapter_stream *st, int include_usage, int64_t created)
{
    gd_xl_anth_sse_init(&st->anth, include_usage, created);
}

static int anth_stream_event(union gw_adapter_stream *st, const char *data, size_t n,
                             struct gd_buf *out)
{
    return gd_xl_anth_sse_event(&st->anth, data, n, out);
}

static int anth_stream_finished(const union gw_adapter_stream *st)
{
    return st->anth.finished;
}

static int anth_stream_usage(const union gw_adapter_stream *st, struct gd_gw_usage *u)
{
    return gd_xl_anth_sse_usage(&st->anth, u);
}

/* chat only: no embeddings hooks */
static const struct gw_adapter anthropic = {
    .name = "anthropic",
    .path = anth_path,
    .headers = anth_headers,
    .request = gd_xl_anth_request,
    .response = gd_xl_anth_response,
    .error = gd_xl_anth_error,
    .stream_init = anth_stream_init,
    .stream_event = anth_stream_event,
    .stream_finished = anth_stream_finished,
    .stream_usage = anth_stream_usage,
};

/* OpenAI's bodies: only the path and the header hooks (see gw_adapter.h). */
static const struct gw_adapter azure = {
    .name = "azure", .path = gd_gw_azure_path, .headers = gd_gw_azure_headers};

const struct gw_adapter *gw_adapter_for(enum gd_gw_provider_type type)
{
    switch (type) {
    case GD_GW_PROVIDER_ANTHROPIC:
        return &anthropic;
    case GD_GW_PROVIDER_AZURE:
        return &azure;
    case GD_GW_PROVIDER_GEMINI:
        return &gw_adapter_gemini;
    case GD_GW_PROVIDER_BEDROCK:
        return &gw_adapter_bedrock;
    default:
        return NULL;
    }
}

/* Whether a deployment on provider p can serve request kind k (0 chat, 1 completions, 2
 * embeddings), as gw_attempt_splice_body decides it. */
static int serves(const struct gd_gw_provider_cfg *p, const char *model, int k)
{
    if (p->type == GD_GW_PROVIDER_LOCAL)
        return k == 2;
    const struct gw_adapter *ad = gw_adapter_for(p->type);
    if (!ad)
        return 1;
    if (ad->path(p, k, model, 0, NULL) == GD_ENOTSUP)
        return 0;
    return k != 2 || !ad->request || ad->embed_request;
}

int gw_model_object(const struct gd_gw_config *gc, int alias, const char *name, struct gd_buf *out)
{
    static const char *const kinds[] = {"chat", "completions", "embeddings"};
    const struct gd_gw_alias_cfg *a = alias >= 0 ? &gc->aliases[alias] : NULL;
    const char *id = a ? a->alias : name;
    int rc = gd_buf_puts(out, "{\"id\":");
    rc = rc ? rc : gd_json_put_str(out, id, strlen(id));
    rc = rc ? rc
            : gd_buf_puts(out, ",\"object\":\"model\",\"created\":0,\"owned_by\":\"girder\","
                               "\"capabilities\":[");
    for (int k = 0, n = 0; rc == 0 && k < 3; k++) {
        int yes = !a && k == 2;
        for (size_t i = 0; a && !yes && i < a->n_deployments; i++)
            yes = serves(&gc->providers[a->deployments[i].provider], a->deployments[i].model, k);
        if (yes) {
            rc = gd_buf_puts(out, n++ ? ",\"" : "\"");
            rc = rc ? rc : gd_buf_puts(out, kinds[k]);
            rc = rc ? rc : gd_buf_putc(out, '"');
        }
    }
    return rc ? rc : gd_buf_puts(out, "]}");
}
