/* Azure OpenAI's deployment URLs and authentication header (see gw_azure.h). */
#include "gateway/gw_azure.h"
#include "girder/error.h"

#include <string.h>

static int unreserved(unsigned char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '-' ||
           c == '_' || c == '.' || c == '~';
}

/* s as one path segment: unreserved bytes as they are, every other byte as %XX. */
static int put_segment(struct gd_buf *out, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    int rc = 0;
    for (const unsigned char *c = (const unsigned char *)s; *c && rc == 0; c++) {
        char esc[3] = {'%', hex[*c >> 4], hex[*c & 15]};
        rc = unreserved(*c) ? gd_buf_putc(out, (char)*c) : gd_buf_append(out, esc, 3);
    }
    return rc;
}

int gd_gw_azure_path(const struct gd_gw_provider_cfg *p, int kind, const char *model, int stream,
                     struct gd_buf *out)
{
    (void)stream;
    static const char *const op[] = {
        "/chat/completions?api-version=", "/completions?api-version=", "/embeddings?api-version="};
    if (kind < 0 || kind >= (int)(sizeof op / sizeof op[0]))
        return GD_ENOTSUP;
    if (!out)
        return 0;
    int rc = gd_buf_puts(out, "/openai/deployments/");
    rc = rc ? rc : put_segment(out, model);
    rc = rc ? rc : gd_buf_puts(out, op[kind]);
    /* api_version is checked at load to be URL-safe (gw_config_azure.c) */
    rc = rc ? rc : gd_buf_puts(out, p->api_version ? p->api_version : "");
    return rc ? GD_ENOMEM : 0;
}

int gd_gw_azure_headers(const struct gd_gw_provider_cfg *p, gw_header_fn add, void *ud)
{
    if (!p->api_key)
        return 0;
    return add(ud, p->azure_entra ? "Authorization: Bearer " : "api-key: ", p->api_key,
               strlen(p->api_key));
}
