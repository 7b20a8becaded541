/* The governance PII policy on the request path (pii.h finds, pii_json.h rewrites): the
 * policy that applies (the alias's `pii:`, else the tenant's, else governance's), then on
 * the client's body before it leaves girder: `block` categories refuse the request, `log`
 * ones are counted, `mask` ones become placeholders (`<EMAIL_1>`) kept in a per-request
 * vault, `redact` ones become `<EMAIL>`; with `restore: true` a non-streamed answer gets
 * the masked values back. Values never reach logs or metrics: only category names.
 * Loop thread of the request. */
#ifndef GD_GATEWAY_GW_PII_H
#define GD_GATEWAY_GW_PII_H

#include "core/buf.h"

#include <stddef.h>

struct gw_req;

/* Applies the policy to req->cbody (which then points at the rewritten body). 0 to go on;
 * else the HTTP status to refuse with (400 blocked or not scannable JSON, 413 over a
 * scanning limit, 500) and the message in msg, code in *code. */
int gw_pii_request(struct gw_req *req, char *msg, size_t msglen, const char **code);
/* Puts the masked values back into a complete non-streamed JSON answer (in place) when
 * the policy says restore. 0 or GD_ENOMEM / GD_ELIMIT (body left as it was). */
int gw_pii_restore_json(struct gw_req *req, struct gd_buf *body);
/* Streamed answers: whether their events need the placeholders put back (restore on, a
 * value masked, an OpenAI-form stream: not the /v1/messages or /v1/responses surfaces),
 * and the complete SSE events p[0..n) with them put back, into out (reset first). A
 * placeholder split across events is held back until complete, then sent (gw_pii_sse.c).
 * 0 or GD_ENOMEM / GD_ELIMIT. */
int gw_pii_sse_active(const struct gw_req *req);
int gw_pii_restore_sse(struct gw_req *req, const char *p, size_t n, struct gd_buf *out);
/* The access-log fields `pii` (the actions taken: log, mask, redact, block) and
 * `pii_categories` (what was found), category names only; nothing when nothing was found. */
void gw_pii_log_fields(struct gw_req *req);
void gw_pii_req_free(struct gw_req *req);

#endif
