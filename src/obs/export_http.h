/* What the background exporters (traces over OTLP/HTTP, metrics over remote write) share:
 * their key/value string pairs and one POST through libcurl easy.
 *
 * Threading: gd_obs_post on the exporter's own thread (never a loop thread). */
#ifndef GD_OBS_EXPORT_HTTP_H
#define GD_OBS_EXPORT_HTTP_H

#include "core/buf.h"
#include "obs/trace.h" /* struct gd_trace_attr_kv */

#include <curl/curl.h>
#include <stddef.h>
#include <stdint.h>

#define GD_OBS_RETRY_AFTER_MAX_S 300 /* a longer Retry-After is taken as this */

void gd_obs_kv_free(struct gd_trace_attr_kv *kv, size_t n);
/* Appends a copy of k[0..kl) = v[0..vl) to (*kv, *n). 0 or GD_ENOMEM (nothing added). */
int gd_obs_kv_push(struct gd_trace_attr_kv **kv, size_t *n, const char *k, size_t kl, const char *v,
                   size_t vl);

struct gd_obs_post {
    const char *url;
    const char *const *fixed; /* complete header lines ("Content-Type: ...") */
    size_t n_fixed;
    const struct gd_trace_attr_kv *headers; /* configured ones (credentials: never logged) */
    size_t n_headers;
    const struct gd_buf *body;
    uint32_t timeout_ms;
};

/* One POST on h (reset first). The HTTP status, or 0 for a transport error or when out of
 * memory; *retry_after: the answer's Retry-After in seconds (delta-seconds form, at most
 * GD_OBS_RETRY_AFTER_MAX_S), -1 when it has none. */
long gd_obs_post(CURL *h, const struct gd_obs_post *p, long *retry_after);

#endif
