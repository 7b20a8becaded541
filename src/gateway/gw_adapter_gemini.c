/* The adapter of provider type gemini (see gw_adapter.h, xl_gemini.h): Google AI Studio
 *   {base_url}/v1beta/models/{model}:generateContent          x-goog-api-key: <api_key>
 * or Vertex AI (gemini: {api: vertex, project, location})
 *   {base_url}/v1/projects/{p}/locations/{l}/publishers/google/models/{model}:generateContent
 *                                                             Authorization: Bearer <api_key>
 * streamed requests go to :streamGenerateContent?alt=sse, embeddings (AI Studio only) to
 * :batchEmbedContents. */
#include "gateway/gw_adapter.h"
#include "gateway/gw_config_gemini.h"
#include "girder/error.h"

#include <string.h>

/* The model as one URL path segment: unreserved bytes as they are, others %XX. */
static int put_segment(struct gd_buf *out, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    int rc = 0;
    for (; *s && rc == 0; s++) {
        unsigned char ch = (unsigned char)*s;
        if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
            ch == '-' || ch == '.' || ch == '_' || ch == '~') {
            rc = gd_buf_append(out, s, 1);
        } else {
            char e[3] = {'%', hex[ch >> 4], hex[ch & 15]};
            rc = gd_buf_append(out, e, 3);
        }
    }
    return rc;
}

static int gem_path(const struct gd_gw_provider_cfg *p, int kind, const char *model, int stream,
                    struct gd_buf *out)
{
    const struct gd_gw_gemini_cfg *g = p->gemini;
    if (kind == 1 || (kind == 2 && g && g->vertex))
        return GD_ENOTSUP; /* no legacy completions; Vertex embeds through :predict */
    if (!out)
        return 0;
    int rc;
    if (g && g->vertex) {
        rc = gd_buf_puts(out, "/v1/projects/");
        rc = rc ? rc : gd_buf_puts(out, g->project);
        rc = rc ? rc : gd_buf_puts(out, "/locations/");
        rc = rc ? rc : gd_buf_puts(out, g->location);
        rc = rc ? rc : gd_buf_puts(out, "/publishers/google/models/");
    } else {
        rc = gd_buf_puts(out, "/v1beta/models/");
    }
    rc = rc ? rc : put_segment(out, model);
    if (kind == 2)
        return rc ? rc : gd_buf_puts(out, ":batchEmbedContents");
    return rc ? rc
              : gd_buf_puts(out, stream ? ":streamGenerateContent?alt=sse" : ":generateContent");
}

static int gem_headers(const struct gd_gw_provider_cfg *p, gw_header_fn add, void *ud)
{
    if (!p->api_key)
        return 0;
    if (p->gemini && p->gemini->vertex)
        return add(ud, "Authorization: Bearer ", p->api_key, strlen(p->api_key));
    return add(ud, "x-goog-api-key: ", p->api_key, strlen(p->api_key));
}

static void gem_stream_init(union gw_adapter_stream *st, int include_usage, int64_t created)
{
    gd_xl_gem_sse_init(&st->gem, include_usage, created);
}

static int gem_stream_event(union gw_adapter_stream *st, const char *data, size_t n,
                            struct gd_buf *out)
{
    return gd_xl_gem_sse_event(&st->gem, data, n, out);
}

static int gem_stream_finished(const union gw_adapter_stream *st)
{
    return st->gem.finished;
}

static int gem_stream_usage(const union gw_adapter_stream *st, struct gd_gw_usage *u)
{
    return gd_xl_gem_sse_usage(&st->gem, u);
}

const struct gw_adapter gw_adapter_gemini = {
    .name = "gemini",
    .path = gem_path,
    .headers = gem_headers,
    .request = gd_xl_gem_request,
    .response = gd_xl_gem_response,
    .error = gd_xl_gem_error,
    .stream_init = gem_stream_init,
    .stream_event = gem_stream_event,
    .stream_finished = gem_stream_finished,
    .stream_usage = gem_stream_usage,
    .embed_request = gd_xl_gem_embed_request,
    .embed_response = gd_xl_gem_embed_response,
};
