/* Shared exporter pieces (see export_http.h). */
#include "obs/export_http.h"
#include "core/alloc.h"
#include "girder/error.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

void gd_obs_kv_free(struct gd_trace_attr_kv *kv, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        gd_free(kv[i].key);
        gd_free(kv[i].value);
    }
    gd_free(kv);
}

int gd_obs_kv_push(struct gd_trace_attr_kv **kv, size_t *n, const char *k, size_t kl, const char *v,
                   size_t vl)
{
    struct gd_trace_attr_kv *nv = gd_realloc(*kv, (*n + 1) * sizeof *nv);
    if (!nv)
        return GD_ENOMEM;
    *kv = nv;
    nv[*n].key = gd_strndup(k, kl);
    nv[*n].value = gd_strndup(v, vl);
    if (!nv[*n].key || !nv[*n].value) {
        gd_free(nv[*n].key);
        gd_free(nv[*n].value);
        return GD_ENOMEM;
    }
    (*n)++;
    return 0;
}

static size_t header_cb(char *p, size_t size, size_t n, void *ud)
{
    long *retry_after = ud;
    size_t len = size * n;
    if (len > 12 && !strncasecmp(p, "retry-after:", 12)) {
        char v[32];
        size_t k = len - 12 < sizeof v - 1 ? len - 12 : sizeof v - 1;
        memcpy(v, p + 12, k);
        v[k] = 0;
        char *end;
        long s = strtol(v, &end, 10); /* delta-seconds; an HTTP date is treated as absent */
        if (end != v && s >= 0)
            *retry_after = s < GD_OBS_RETRY_AFTER_MAX_S ? s : GD_OBS_RETRY_AFTER_MAX_S;
    }
    return len;
}

static size_t discard_cb(char *p, size_t size, size_t n, void *ud)
{
    (void)p, (void)ud;
    return size * n;
}

long gd_obs_post(CURL *h, const struct gd_obs_post *p, long *retry_after)
{
    struct curl_slist *hdrs = NULL;
    int oom = 0;
    for (size_t i = 0; i < p->n_fixed + p->n_headers + 1 && !oom; i++) {
        char line[4200];
        if (i < p->n_fixed)
            snprintf(line, sizeof line, "%s", p->fixed[i]);
        else if (i < p->n_fixed + p->n_headers)
            snprintf(line, sizeof line, "%s: %s", p->headers[i - p->n_fixed].key,
                     p->headers[i - p->n_fixed].value);
        else
            snprintf(line, sizeof line, "Expect:"); /* no 100-continue round trip */
        struct curl_slist *n = curl_slist_append(hdrs, line);
        oom = !n;
        hdrs = n ? n : hdrs;
    }
    *retry_after = -1;
    long status = 0;
    if (!oom) {
        curl_easy_reset(h);
        curl_easy_setopt(h, CURLOPT_URL, p->url);
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, p->body->data);
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)p->body->len);
        curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
        curl_easy_setopt(h, CURLOPT_USERAGENT, "girder/" GD_VERSION_STRING);
        curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)p->timeout_ms);
        curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, header_cb);
        curl_easy_setopt(h, CURLOPT_HEADERDATA, retry_after);
        curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, discard_cb);
        if (curl_easy_perform(h) == CURLE_OK)
            curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    }
    curl_slist_free_all(hdrs);
    return status;
}
