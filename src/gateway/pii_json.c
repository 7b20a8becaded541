/* PII in JSON bodies: string-value rewriting and placeholder restore (see pii_json.h). */
#include "gateway/pii_json.h"

#include "core/alloc.h"
#include "core/json_write.h"
#include "gateway/json_scan.h"
#include "girder/error.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

#define MATCH_MAX 1024

void gd_pii_vault_init(struct gd_pii_vault *v)
{
    memset(v, 0, sizeof *v);
}

void gd_pii_vault_free(struct gd_pii_vault *v)
{
    for (size_t i = 0; i < v->n; i++)
        gd_free(v->ent[i].value);
    gd_pii_vault_init(v);
}

/* Writes the placeholder tag "<EMAIL>" or "<EMAIL_3>" to dst (>= 40 bytes). */
static size_t tag(char *dst, enum gd_pii_cat c, unsigned num)
{
    const char *name = gd_pii_cat_name(c);
    size_t k = 0;
    dst[k++] = '<';
    for (; *name; name++)
        dst[k++] = (char)toupper((unsigned char)*name);
    if (num)
        k += (size_t)snprintf(dst + k, 16, "_%u", num);
    dst[k++] = '>';
    dst[k] = 0;
    return k;
}

static int vault_num(struct gd_pii_vault *v, enum gd_pii_cat c, const char *s, size_t n,
                     unsigned *num)
{
    for (size_t i = 0; i < v->n; i++) {
        if (v->ent[i].cat == c && v->ent[i].len == n && memcmp(v->ent[i].value, s, n) == 0) {
            *num = v->ent[i].num;
            return 0;
        }
    }
    if (v->n == GD_PII_VAULT_MAX)
        return GD_ELIMIT;
    char *copy = gd_strndup(s, n);
    if (!copy)
        return GD_ENOMEM;
    *num = ++v->per_cat[c];
    v->ent[v->n++] = (struct gd_pii_vault_ent){.value = copy, .len = n, .cat = c, .num = *num};
    return 0;
}

/* Rewrites one decoded string value into out (quoted), or returns 1 when nothing matched. */
static int rewrite_value(struct gd_pii_scanner *s, const char *dec, size_t dn, uint32_t cats,
                         enum gd_pii_mode mode, struct gd_pii_vault *vault, struct gd_buf *out,
                         unsigned *counts, struct gd_buf *tmp)
{
    static _Thread_local struct gd_pii_match m[MATCH_MAX];
    size_t nm = 0;
    int rc = gd_pii_scan(s, dec, dn, cats, m, MATCH_MAX, &nm);
    if (rc != 0)
        return rc == GD_EAGAIN ? GD_ELIMIT : rc;
    if (nm == 0)
        return 1;
    gd_buf_reset(tmp);
    size_t at = 0;
    for (size_t i = 0; i < nm; i++) {
        char t[48];
        unsigned num = 0;
        if (mode == GD_PII_MODE_MASK && m[i].len <= GD_PII_VALUE_MAX &&
            (rc = vault_num(vault, m[i].cat, dec + m[i].off, m[i].len, &num)) != 0)
            return rc;
        size_t tn = tag(t, m[i].cat, num);
        if ((rc = gd_buf_append(tmp, dec + at, m[i].off - at)) != 0 ||
            (rc = gd_buf_append(tmp, t, tn)) != 0)
            return rc;
        at = m[i].off + m[i].len;
        if (counts)
            counts[m[i].cat]++;
    }
    if ((rc = gd_buf_append(tmp, dec + at, dn - at)) != 0)
        return rc;
    return gd_json_put_str(out, tmp->data, tmp->len);
}

/* End of the string token starting at body[i] == '"' (index of the closing quote). */
static int string_end(const char *body, size_t len, size_t i, size_t *end)
{
    for (size_t j = i + 1; j < len; j++) {
        if (body[j] == '\\')
            j++;
        else if (body[j] == '"') {
            *end = j;
            return 0;
        }
    }
    return GD_EPARSE;
}

int gd_pii_rewrite_json(struct gd_pii_scanner *s, const char *body, size_t len, uint32_t cats,
                        enum gd_pii_mode mode, struct gd_pii_vault *vault, struct gd_buf *out,
                        unsigned counts[GD_PII_NCAT])
{
    if (mode == GD_PII_MODE_MASK && !vault)
        return GD_EINVAL;
    struct gd_buf tmp;
    gd_buf_init(&tmp, GD_PII_STRING_MAX * 2);
    char *dec = NULL;
    int rc = 0;
    size_t copied = 0, i = 0;
    while (i < len) {
        if (body[i] != '"') {
            i++;
            continue;
        }
        size_t end;
        if ((rc = string_end(body, len, i, &end)) != 0)
            goto done;
        size_t k = end + 1;
        while (k < len && (body[k] == ' ' || body[k] == '\t' || body[k] == '\n' || body[k] == '\r'))
            k++;
        if (k < len && body[k] == ':') { /* an object key: left as is */
            i = end + 1;
            continue;
        }
        size_t en = end - i - 1;
        if (en > GD_PII_STRING_MAX) {
            rc = GD_ELIMIT;
            goto done;
        }
        if (!dec && !(dec = gd_malloc(GD_PII_STRING_MAX + 1))) {
            rc = GD_ENOMEM;
            goto done;
        }
        int dn = gd_gw_json_unescape(body + i + 1, en, dec, GD_PII_STRING_MAX + 1);
        if (dn < 0) {
            rc = dn;
            goto done;
        }
        size_t mark = out->len;
        if ((rc = gd_buf_append(out, body + copied, i - copied)) != 0)
            goto done;
        rc = rewrite_value(s, dec, (size_t)dn, cats, mode, vault, out, counts, &tmp);
        if (rc == 1) { /* unchanged: copy the original token */
            out->len = mark;
            out->data[mark] = 0;
        } else if (rc != 0) {
            goto done;
        } else {
            copied = end + 1;
        }
        rc = 0;
        i = end + 1;
    }
    rc = gd_buf_append(out, body + copied, len - copied);
done:
    gd_free(dec);
    gd_buf_free(&tmp);
    return rc;
}

int gd_pii_restore(const struct gd_pii_vault *v, const char *text, size_t n, struct gd_buf *out)
{
    size_t copied = 0;
    for (size_t i = 0; i < n; i++) {
        if (text[i] != '<')
            continue;
        const char *gt = memchr(text + i, '>', n - i < 48 ? n - i : 48);
        if (!gt)
            continue;
        size_t tn = (size_t)(gt - (text + i)) + 1;
        for (size_t e = 0; e < v->n; e++) {
            char t[48];
            size_t k = tag(t, v->ent[e].cat, v->ent[e].num);
            if (k != tn || memcmp(t, text + i, k) != 0)
                continue;
            int rc = gd_buf_append(out, text + copied, i - copied);
            if (rc == 0)
                rc = gd_buf_append(out, v->ent[e].value, v->ent[e].len);
            if (rc != 0)
                return rc;
            copied = i + k;
            i += k - 1;
            break;
        }
    }
    return gd_buf_append(out, text + copied, n - copied);
}
