/* OpenAI error bodies (see oai_error.h). Types follow what the OpenAI API returns, so SDKs
 * map them onto their exception classes (BadRequestError, NotFoundError, ...). */
#include "gateway/oai_error.h"
#include "core/json_write.h"

#include <string.h>

const char *gd_gw_error_type_for(int status)
{
    switch (status) {
    case 400:
    case 404:
    case 405:
    case 413:
    case 422:
        return "invalid_request_error";
    case 401:
        return "authentication_error";
    case 403:
        return "permission_error";
    case 429:
        return "rate_limit_error";
    default:
        return status >= 500 ? "api_error" : "invalid_request_error";
    }
}

static int put_opt(struct gd_buf *out, const char *key, const char *v, int *first)
{
    int rc = gd_json_put_key(out, key, first);
    if (rc == 0)
        rc = v ? gd_json_put_str(out, v, strlen(v)) : gd_buf_puts(out, "null");
    return rc;
}

int gd_gw_error_write(struct gd_buf *out, int status, const char *message, const char *type,
                      const char *param, const char *code)
{
    int first = 1;
    int rc = gd_buf_puts(out, "{\"error\":{");
    if (rc == 0)
        rc = put_opt(out, "message", message ? message : "error", &first);
    if (rc == 0)
        rc = put_opt(out, "type", type ? type : gd_gw_error_type_for(status), &first);
    if (rc == 0)
        rc = put_opt(out, "param", param, &first);
    if (rc == 0)
        rc = put_opt(out, "code", code, &first);
    if (rc == 0)
        rc = gd_buf_puts(out, "}}");
    return rc;
}
