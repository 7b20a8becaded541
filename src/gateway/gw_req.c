/* The cold part of a proxied request: refusals and failure details, allocated only by the
 * few requests that have one (gw_req.h). Loop thread only. */
#include "gateway/gw_req.h"

#include "core/alloc.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

struct gw_req_cold *gw_req_cold(struct gw_req *req)
{
    if (!req->cold)
        req->cold = gd_calloc(1, sizeof *req->cold);
    return req->cold;
}

struct gd_xl_err *gw_xl_scratch(void)
{
    static _Thread_local struct gd_xl_err scratch;
    scratch.status = 0;
    scratch.message[0] = scratch.param[0] = '\0';
    return &scratch;
}

void gw_req_keep_refusal(struct gw_req *req, const struct gd_xl_err *e, int in_err)
{
    if (!e->status || !gw_req_cold(req))
        return;
    *(in_err ? &req->cold->in_err : &req->cold->xl_err) = *e;
}

void gw_req_refuse(struct gw_req *req, const char *fmt, ...)
{
    if (!gw_req_cold(req))
        return;
    struct gd_xl_err *e = &req->cold->xl_err;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->message, sizeof e->message, fmt, ap);
    va_end(ap);
    e->param[0] = '\0';
    e->status = 400;
}

void gw_req_set_detail(struct gw_req *req, const char *fmt, ...)
{
    if (!gw_req_cold(req))
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(req->cold->detail, sizeof req->cold->detail, fmt, ap);
    va_end(ap);
}

void gw_req_set_ctype(struct gw_req *req, const char *v, size_t n)
{
    static const char *const common[] = {"application/json", "application/json; charset=utf-8",
                                         "text/event-stream", "text/event-stream; charset=utf-8"};
    gd_free(req->ctype_own);
    req->ctype_own = NULL;
    req->ctype = "";
    n = n < 127 ? n : 127;
    for (size_t i = 0; n && i < sizeof common / sizeof *common; i++)
        if (strlen(common[i]) == n && memcmp(common[i], v, n) == 0) {
            req->ctype = common[i];
            return;
        }
    if (n && (req->ctype_own = gd_strndup(v, n)))
        req->ctype = req->ctype_own;
}
