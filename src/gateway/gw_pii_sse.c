/* PII restore in streamed answers (see gw_pii.h): the OpenAI-form events a client gets have
 * the vault's placeholders put back into each choice's text (chat `delta.content`,
 * completions `text`).
 *
 * A model streams a placeholder in pieces ("<EMA", "IL_1>"), so the end of a choice's text
 * that could still become one (a '<' followed only by [A-Z0-9_], shorter than HOLD_MAX) is
 * held back and put in front of that choice's next text. It goes out with the choice's
 * finish_reason, or in a chunk of its own before [DONE]. Events that change nothing are
 * copied byte for byte; changed ones are printed again by cJSON. */
#include "gateway/gw_pii.h"
#include "core/alloc.h"
#include "core/json_write.h"
#include "gateway/gov_config.h"
#include "gateway/gw_req.h"
#include "gateway/pii_json.h"
#include "girder/error.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <string.h>

enum { HOLD_CHOICES = 16, HOLD_MAX = 48 };

struct gw_pii_sse {
    char hold[HOLD_CHOICES][HOLD_MAX];
    uint8_t n_hold[HOLD_CHOICES];
    int completions; /* text_completion chunks: the text is choices[].text */
    char id[128];    /* of the last chunk, for a chunk of held text before [DONE] */
    char model[256];
    double created;
};

int gw_pii_sse_active(const struct gw_req *req)
{
    return req->pii && req->pii->restore && req->pii_vault && req->pii_vault->n &&
           !req->inbound_anthropic && !req->inbound_responses;
}

/* Where a held tail starts in t[0..n): the last '<' followed only by [A-Z0-9_], or n. */
static size_t held_from(const char *t, size_t n)
{
    size_t from = n;
    for (size_t i = n; i-- > 0 && n - i < HOLD_MAX;) {
        char ch = t[i];
        if (ch == '<') {
            from = i;
            break;
        }
        if (!((ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '_'))
            break;
    }
    return from;
}

/* One choice: its new text (restored, with the held tail of earlier events in front and
 * this event's tail held back unless it finishes). 1 when it changed, 0, or a gd error. */
static int choice_text(struct gw_req *req, struct gw_pii_sse *st, cJSON *ch, int pos)
{
    const cJSON *ix = cJSON_GetObjectItemCaseSensitive(ch, "index");
    int i = cJSON_IsNumber(ix) ? (int)ix->valuedouble : pos;
    if (i < 0 || i >= HOLD_CHOICES)
        return 0;
    cJSON *parent = st->completions ? ch : cJSON_GetObjectItemCaseSensitive(ch, "delta");
    const char *key = st->completions ? "text" : "content";
    const cJSON *s = cJSON_GetObjectItemCaseSensitive(parent, key);
    int finishing = cJSON_IsString(cJSON_GetObjectItemCaseSensitive(ch, "finish_reason"));
    if (!cJSON_IsObject(parent) || (!cJSON_IsString(s) && !(finishing && st->n_hold[i])))
        return 0;
    struct gd_buf all, out;
    gd_buf_init(&all, 1u << 24);
    gd_buf_init(&out, 1u << 24);
    int rc = gd_buf_append(&all, st->hold[i], st->n_hold[i]);
    rc = rc ? rc : cJSON_IsString(s) ? gd_buf_puts(&all, s->valuestring) : 0;
    size_t keep = rc || finishing ? all.len : held_from(all.data ? all.data : "", all.len);
    rc = rc ? rc : gd_pii_restore(req->pii_vault, all.data ? all.data : "", keep, &out);
    rc = rc ? rc : gd_buf_append(&out, "", 1); /* NUL for cJSON */
    int changed = 0;
    if (rc == 0) {
        st->n_hold[i] = (uint8_t)(all.len - keep);
        memcpy(st->hold[i], all.data + keep, all.len - keep);
        changed = !cJSON_IsString(s) || strcmp(out.data, s->valuestring) != 0;
        cJSON *v = changed ? cJSON_CreateString(out.data) : NULL;
        if (changed &&
            (!v || (cJSON_IsString(s) ? !cJSON_ReplaceItemInObjectCaseSensitive(parent, key, v)
                                      : !cJSON_AddItemToObject(parent, key, v)))) {
            cJSON_Delete(v);
            rc = GD_ENOMEM;
        }
    }
    gd_buf_free(&all);
    gd_buf_free(&out);
    return rc ? rc : changed;
}

static void remember(struct gw_pii_sse *st, const cJSON *ev)
{
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(ev, "id");
    const cJSON *model = cJSON_GetObjectItemCaseSensitive(ev, "model");
    const cJSON *obj = cJSON_GetObjectItemCaseSensitive(ev, "object");
    const cJSON *created = cJSON_GetObjectItemCaseSensitive(ev, "created");
    if (cJSON_IsString(id))
        snprintf(st->id, sizeof st->id, "%s", id->valuestring);
    if (cJSON_IsString(model))
        snprintf(st->model, sizeof st->model, "%s", model->valuestring);
    if (cJSON_IsNumber(created))
        st->created = created->valuedouble;
    st->completions = cJSON_IsString(obj) && strcmp(obj->valuestring, "text_completion") == 0;
}

/* The data of one event, rewritten into out when it changed (1), else 0. */
static int event_json(struct gw_req *req, struct gw_pii_sse *st, const char *d, size_t n,
                      struct gd_buf *out)
{
    cJSON *ev = cJSON_ParseWithLength(d, n);
    if (!ev)
        return 0; /* not ours to judge: relayed as it came */
    remember(st, ev);
    int rc = 0, changed = 0, pos = 0;
    cJSON *choices = cJSON_GetObjectItemCaseSensitive(ev, "choices");
    for (cJSON *ch = cJSON_IsArray(choices) ? choices->child : NULL; ch && rc >= 0;
         ch = ch->next, pos++)
        if ((rc = choice_text(req, st, ch, pos)) > 0)
            changed = 1;
    char *text = rc >= 0 && changed ? cJSON_PrintUnformatted(ev) : NULL;
    if (rc >= 0 && changed)
        rc = text ? gd_buf_puts(out, text) : GD_ENOMEM;
    cJSON_free(text);
    cJSON_Delete(ev);
    return rc < 0 ? rc : changed;
}

/* Chunks with the held text of every choice (a stream that ends without finish_reason). */
static int flush_held(struct gw_req *req, struct gw_pii_sse *st, struct gd_buf *out)
{
    int rc = 0;
    for (int i = 0; i < HOLD_CHOICES && rc == 0; i++) {
        if (!st->n_hold[i])
            continue;
        struct gd_buf t;
        gd_buf_init(&t, HOLD_MAX * 4 + 16);
        rc = gd_pii_restore(req->pii_vault, st->hold[i], st->n_hold[i], &t);
        rc = rc ? rc : gd_buf_puts(out, "data: {\"id\":");
        rc = rc ? rc : gd_json_put_str(out, st->id, strlen(st->id));
        rc = rc ? rc
                : gd_buf_printf(out, ",\"object\":\"%s\",\"created\":%.0f,\"model\":",
                                st->completions ? "text_completion" : "chat.completion.chunk",
                                st->created);
        rc = rc ? rc : gd_json_put_str(out, st->model, strlen(st->model));
        rc = rc ? rc : gd_buf_printf(out, ",\"choices\":[{\"index\":%d,", i);
        rc = rc ? rc : gd_buf_puts(out, st->completions ? "\"text\":" : "\"delta\":{\"content\":");
        rc = rc ? rc : gd_json_put_str(out, t.data ? t.data : "", t.len);
        rc = rc ? rc : gd_buf_puts(out, st->completions ? "" : "}");
        rc = rc ? rc : gd_buf_puts(out, ",\"finish_reason\":null}]}\n\n");
        gd_buf_free(&t);
        st->n_hold[i] = 0;
    }
    return rc;
}

/* Line i..(end of line) of p; *next: the start of the following line. */
static size_t line_len(const char *p, size_t n, size_t i, size_t *next)
{
    const char *nl = memchr(p + i, '\n', n - i);
    size_t e = nl ? (size_t)(nl - p) : n;
    *next = nl ? e + 1 : n;
    return e > i && p[e - 1] == '\r' ? e - 1 - i : e - i;
}

int gw_pii_restore_sse(struct gw_req *req, const char *p, size_t n, struct gd_buf *out)
{
    gd_buf_reset(out);
    if (!req->pii_sse && !(req->pii_sse = gd_calloc(1, sizeof *req->pii_sse)))
        return GD_ENOMEM;
    struct gw_pii_sse *st = req->pii_sse;
    int rc = 0;
    size_t i = 0;
    while (rc == 0 && i < n) {
        size_t next, len = line_len(p, n, i, &next);
        const char *l = p + i;
        int data = len >= 5 && memcmp(l, "data:", 5) == 0;
        size_t d0 = data ? (len > 5 && l[5] == ' ' ? 6 : 5) : 0;
        if (data && len - d0 == 6 && memcmp(l + d0, "[DONE]", 6) == 0)
            rc = flush_held(req, st, out);
        else if (data) {
            size_t mark = out->len;
            rc = gd_buf_append(out, l, d0);
            int changed = rc ? rc : event_json(req, st, l + d0, len - d0, out);
            if (changed > 0) {
                rc = gd_buf_append(out, p + i + len, next - i - len); /* the line end */
                i = next;
                continue;
            }
            out->len = mark;
            rc = changed < 0 ? changed : 0;
        }
        rc = rc ? rc : gd_buf_append(out, l, next - i);
        i = next;
    }
    return rc;
}
