/* The adapter of provider type bedrock (see gw_adapter.h, xl_bedrock.h): AWS Bedrock
 * Runtime's Converse API,
 *   POST {base_url}/model/{modelId}/converse           (streamed: /converse-stream)
 * signed with SigV4 (aws_sigv4.h, service "bedrock", the provider's region and
 * credentials): Content-Type, X-Amz-Date, X-Amz-Security-Token (session credentials) and
 * Authorization. The model id goes in the path as one segment, every byte but unreserved
 * ones %XX-encoded (the ':' of versioned ids is %3A). */
#include "gateway/aws_sigv4.h"
#include "gateway/gw_adapter.h"
#include "gateway/gw_config_bedrock.h"
#include "gateway/xl_bedrock.h"
#include "girder/error.h"

#include <string.h>
#include <time.h>

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

static int br_path(const struct gd_gw_provider_cfg *p, int kind, const char *model, int stream,
                   struct gd_buf *out)
{
    (void)p;
    if (kind != 0)
        return GD_ENOTSUP; /* Converse is chat only */
    if (!out)
        return 0;
    int rc = gd_buf_puts(out, "/model/");
    rc = rc ? rc : put_segment(out, model);
    return rc ? rc : gd_buf_puts(out, stream ? "/converse-stream" : "/converse");
}

/* Never called: bedrock's headers depend on the request and come from br_sign. */
static int br_headers(const struct gd_gw_provider_cfg *p, gw_header_fn add, void *ud)
{
    (void)p, (void)add, (void)ud;
    return GD_ENOTSUP;
}

/* base_url's authority (what the Host header carries) into host[0..cap). */
static int authority(const char *url, char *host, size_t cap)
{
    const char *a = strstr(url, "://");
    if (!a)
        return GD_EINVAL;
    a += 3;
    size_t n = strcspn(a, "/");
    if (n == 0 || n >= cap)
        return GD_EINVAL;
    memcpy(host, a, n);
    host[n] = '\0';
    return 0;
}

static int br_sign(const struct gd_gw_provider_cfg *p, const char *path, const char *body,
                   size_t len, gw_header_fn add, void *ud)
{
    const struct gd_gw_bedrock_cfg *b = p->bedrock;
    char host[256], date[17];
    if (!b || authority(p->base_url, host, sizeof host) != 0)
        return GD_EINVAL;
    gd_aws_amz_date(time(NULL), date);
    struct gd_aws_creds c = {b->access_key_id, b->secret_access_key, b->session_token};
    struct gd_aws_sig_req r = {0};
    r.method = "POST";
    r.host = host;
    r.path = path;
    r.content_type = "application/json";
    r.payload = body;
    r.payload_len = len;
    r.amz_date = date;
    r.region = b->region;
    r.service = "bedrock";
    struct gd_buf auth;
    gd_buf_init(&auth, 2048);
    int rc = gd_aws_sigv4_sign(&r, &c, &auth, NULL);
    rc = rc ? rc : add(ud, "X-Amz-Date: ", date, 16);
    if (rc == 0 && b->session_token)
        rc = add(ud, "X-Amz-Security-Token: ", b->session_token, strlen(b->session_token));
    rc = rc ? rc : add(ud, "Authorization: ", auth.data, auth.len);
    gd_buf_free(&auth);
    return rc;
}

static void br_stream_init(union gw_adapter_stream *st, int include_usage, int64_t created)
{
    gd_xl_br_sse_init(&st->br, include_usage, created);
}

static int br_stream_event(union gw_adapter_stream *st, const char *data, size_t n,
                           struct gd_buf *out)
{
    return gd_xl_br_sse_event(&st->br, data, n, out);
}

static int br_stream_finished(const union gw_adapter_stream *st)
{
    return st->br.finished;
}

static int br_stream_usage(const union gw_adapter_stream *st, struct gd_gw_usage *u)
{
    return gd_xl_br_sse_usage(&st->br, u);
}

static int br_stream_feed(union gw_adapter_stream *st, const char *p, size_t n,
                          gd_gw_sse_event_fn fn, void *ud)
{
    return gd_xl_br_sse_feed(&st->br, p, n, fn, ud);
}

static void br_stream_free(union gw_adapter_stream *st)
{
    gd_xl_br_sse_free(&st->br);
}

const struct gw_adapter gw_adapter_bedrock = {
    .name = "bedrock",
    .path = br_path,
    .headers = br_headers,
    .request = gd_xl_bedrock_request,
    .response = gd_xl_bedrock_response,
    .error = gd_xl_bedrock_error,
    .stream_init = br_stream_init,
    .stream_event = br_stream_event,
    .stream_finished = br_stream_finished,
    .stream_usage = br_stream_usage,
    .sign = br_sign,
    .stream_ctype = "application/vnd.amazon.eventstream",
    .stream_feed = br_stream_feed,
    .stream_free = br_stream_free,
};
