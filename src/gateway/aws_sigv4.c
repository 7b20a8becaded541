/* AWS Signature Version 4 (see aws_sigv4.h). */
#include "gateway/aws_sigv4.h"
#include "gateway/gov_keys.h"
#include "girder/error.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdlib.h>
#include <string.h>

enum { MAX_QUERY_PARAMS = 64 };

static const char hexl[] = "0123456789abcdef";

static void to_hex(const unsigned char *md, size_t n, char *out)
{
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = hexl[md[i] >> 4];
        out[2 * i + 1] = hexl[md[i] & 15];
    }
    out[2 * n] = '\0';
}

void gd_aws_sha256_hex(const void *p, size_t n, char out[65])
{
    unsigned char md[32];
    gd_gov_sha256(p, n, md);
    to_hex(md, 32, out);
}

void gd_aws_amz_date(time_t t, char out[17])
{
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, 17, "%Y%m%dT%H%M%SZ", &tm);
}

static int unreserved(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '.' || c == '_' || c == '~';
}

/* s[0..n) URI-encoded (uppercase %XX) into out; '/' kept when keep_slash. */
static int put_encoded(struct gd_buf *out, const char *s, size_t n, int keep_slash)
{
    static const char hexu[] = "0123456789ABCDEF";
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        unsigned char c = (unsigned char)s[i];
        if (unreserved(c) || (keep_slash && c == '/')) {
            rc = gd_buf_putc(out, (char)c);
        } else {
            char e[3] = {'%', hexu[c >> 4], hexu[c & 15]};
            rc = gd_buf_append(out, e, 3);
        }
    }
    return rc;
}

/* A field we sign: present, bounded, printable ASCII (no control bytes, no spaces). */
static int field_ok(const char *s, int allow_empty)
{
    if (!s)
        return 0;
    size_t n = strnlen(s, GD_AWS_MAX_FIELD + 1);
    if (n > GD_AWS_MAX_FIELD || (n == 0 && !allow_empty))
        return 0;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] <= 0x20 || (unsigned char)s[i] >= 0x7f)
            return 0;
    return 1;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* s[0..n) percent-decoded, then encoded the canonical way, into out. */
static int put_query_part(struct gd_buf *out, const char *s, size_t n)
{
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        char c = s[i];
        if (c == '%' && i + 2 < n && hexval(s[i + 1]) >= 0 && hexval(s[i + 2]) >= 0) {
            c = (char)(hexval(s[i + 1]) * 16 + hexval(s[i + 2]));
            i += 2;
        }
        rc = put_encoded(out, &c, 1, 0);
    }
    return rc;
}

struct qparam {
    const char *k, *v;
    size_t kn, vn;
    size_t off, klen, len; /* its encoded form in the scratch buffer: key part, whole */
};

static const struct gd_buf *g_sort_buf; /* qsort has no user pointer: set while sorting */

static int qparam_cmp(const void *a, const void *b)
{
    const struct qparam *x = a, *y = b;
    const char *d = g_sort_buf->data;
    size_t kn = x->klen < y->klen ? x->klen : y->klen;
    int c = memcmp(d + x->off, d + y->off, kn);
    if (c || x->klen != y->klen)
        return c ? c : (x->klen < y->klen ? -1 : 1);
    size_t xv = x->len - x->klen, yv = y->len - y->klen, vn = xv < yv ? xv : yv;
    c = memcmp(d + x->off + x->klen, d + y->off + y->klen, vn);
    return c ? c : (xv < yv ? -1 : xv > yv);
}

/* The canonical query string: parameters decoded, re-encoded, sorted by name then value. */
static int put_query(struct gd_buf *out, const char *q)
{
    if (!q || !*q)
        return 0;
    struct qparam ps[MAX_QUERY_PARAMS];
    size_t np = 0;
    struct gd_buf enc;
    gd_buf_init(&enc, 4 * GD_AWS_MAX_FIELD);
    int rc = 0;
    for (const char *s = q; *s && rc == 0;) {
        const char *amp = strchr(s, '&'), *end = amp ? amp : s + strlen(s);
        if (end > s) {
            if (np == MAX_QUERY_PARAMS) {
                rc = GD_EINVAL;
                break;
            }
            const char *eq = memchr(s, '=', (size_t)(end - s));
            struct qparam *p = &ps[np++];
            p->k = s;
            p->kn = (size_t)((eq ? eq : end) - s);
            p->v = eq ? eq + 1 : end;
            p->vn = (size_t)(end - p->v);
            p->off = enc.len;
            rc = put_query_part(&enc, p->k, p->kn);
            p->klen = enc.len - p->off;
            rc = rc ? rc : put_query_part(&enc, p->v, p->vn);
            p->len = enc.len - p->off;
        }
        s = amp ? amp + 1 : end;
    }
    if (rc == 0) {
        g_sort_buf = &enc;
        qsort(ps, np, sizeof ps[0], qparam_cmp);
        g_sort_buf = NULL;
    }
    for (size_t i = 0; i < np && rc == 0; i++) {
        rc = i ? gd_buf_putc(out, '&') : 0;
        rc = rc ? rc : gd_buf_append(out, enc.data + ps[i].off, ps[i].klen);
        rc = rc ? rc : gd_buf_putc(out, '=');
        rc =
            rc ? rc : gd_buf_append(out, enc.data + ps[i].off + ps[i].klen, ps[i].len - ps[i].klen);
    }
    gd_buf_free(&enc);
    return rc;
}

static int check_req(const struct gd_aws_sig_req *r)
{
    if (!field_ok(r->method, 0) || !field_ok(r->host, 0) || !field_ok(r->path, 1) ||
        (r->query && !field_ok(r->query, 1)) || !field_ok(r->region, 0) ||
        !field_ok(r->service, 0) || !r->amz_date || strlen(r->amz_date) != 16 ||
        r->amz_date[8] != 'T' || r->amz_date[15] != 'Z')
        return GD_EINVAL;
    if (r->content_type && (!r->content_type[0] || strlen(r->content_type) > GD_AWS_MAX_FIELD))
        return GD_EINVAL;
    if (r->path[0] && r->path[0] != '/')
        return GD_EINVAL;
    return r->payload || r->payload_len == 0 ? 0 : GD_EINVAL;
}

static int put_header(struct gd_buf *out, const char *name, const char *v)
{
    int rc = gd_buf_puts(out, name);
    rc = rc ? rc : gd_buf_putc(out, ':');
    rc = rc ? rc : gd_buf_puts(out, v);
    return rc ? rc : gd_buf_putc(out, '\n');
}

static int has_token(const struct gd_aws_creds *c)
{
    return c && c->session_token && c->session_token[0];
}

static int put_signed_names(struct gd_buf *out, const struct gd_aws_sig_req *r, int token)
{
    int rc = r->content_type ? gd_buf_puts(out, "content-type;") : 0;
    rc = rc ? rc : gd_buf_puts(out, "host");
    rc = rc || !r->sign_content_sha256 ? rc : gd_buf_puts(out, ";x-amz-content-sha256");
    rc = rc ? rc : gd_buf_puts(out, ";x-amz-date");
    return rc || !token ? rc : gd_buf_puts(out, ";x-amz-security-token");
}

static int canonical(const struct gd_aws_sig_req *r, const struct gd_aws_creds *c,
                     const char *payload_hex, struct gd_buf *out)
{
    int rc = check_req(r);
    if (rc)
        return rc;
    if (has_token(c) && !field_ok(c->session_token, 0))
        return GD_EINVAL;
    rc = gd_buf_puts(out, r->method);
    rc = rc ? rc : gd_buf_putc(out, '\n');
    rc = rc ? rc
            : (r->path[0] ? put_encoded(out, r->path, strlen(r->path), 1) : gd_buf_putc(out, '/'));
    rc = rc ? rc : gd_buf_putc(out, '\n');
    rc = rc ? rc : put_query(out, r->query);
    rc = rc ? rc : gd_buf_putc(out, '\n');
    if (rc == 0 && r->content_type)
        rc = put_header(out, "content-type", r->content_type);
    rc = rc ? rc : put_header(out, "host", r->host);
    if (rc == 0 && r->sign_content_sha256)
        rc = put_header(out, "x-amz-content-sha256", payload_hex);
    rc = rc ? rc : put_header(out, "x-amz-date", r->amz_date);
    if (rc == 0 && has_token(c))
        rc = put_header(out, "x-amz-security-token", c->session_token);
    rc = rc ? rc : gd_buf_putc(out, '\n');
    rc = rc ? rc : put_signed_names(out, r, has_token(c));
    rc = rc ? rc : gd_buf_putc(out, '\n');
    return rc ? rc : gd_buf_puts(out, payload_hex);
}

int gd_aws_sigv4_canonical(const struct gd_aws_sig_req *r, struct gd_buf *out)
{
    char ph[65];
    gd_aws_sha256_hex(r->payload ? r->payload : "", r->payload_len, ph);
    return canonical(r, NULL, ph, out);
}

static int hmac(const unsigned char *key, size_t kn, const void *msg, size_t n,
                unsigned char out[32])
{
    unsigned int ml = 0;
    return HMAC(EVP_sha256(), key, (int)kn, msg, n, out, &ml) && ml == 32 ? 0 : GD_ENOMEM;
}

/* kSigning = HMAC(HMAC(HMAC(HMAC("AWS4" + secret, date), region), service), "aws4_request") */
static int derive_key(const char *secret, const struct gd_aws_sig_req *r, unsigned char k[32])
{
    size_t sn = strlen(secret);
    if (sn == 0 || sn > 256)
        return GD_EINVAL;
    unsigned char seed[4 + 256];
    memcpy(seed, "AWS4", 4);
    memcpy(seed + 4, secret, sn);
    int rc = hmac(seed, 4 + sn, r->amz_date, 8, k);
    rc = rc ? rc : hmac(k, 32, r->region, strlen(r->region), k);
    rc = rc ? rc : hmac(k, 32, r->service, strlen(r->service), k);
    rc = rc ? rc : hmac(k, 32, "aws4_request", 12, k);
    OPENSSL_cleanse(seed, sizeof seed);
    return rc;
}

int gd_aws_sigv4_sign(const struct gd_aws_sig_req *r, const struct gd_aws_creds *c,
                      struct gd_buf *auth, char payload_hex[65])
{
    char ph[65], ch[65], sig[65];
    unsigned char k[32], mac[32];
    struct gd_buf cr, sts;
    if (!c || !field_ok(c->access_key_id, 0) || !c->secret_access_key)
        return GD_EINVAL;
    gd_aws_sha256_hex(r->payload ? r->payload : "", r->payload_len, ph);
    gd_buf_init(&cr, 8 * GD_AWS_MAX_FIELD);
    gd_buf_init(&sts, 1024);
    int rc = canonical(r, c, ph, &cr);
    if (rc == 0) {
        gd_aws_sha256_hex(cr.data, cr.len, ch);
        rc = gd_buf_printf(&sts, "AWS4-HMAC-SHA256\n%s\n%.8s/%s/%s/aws4_request\n%s", r->amz_date,
                           r->amz_date, r->region, r->service, ch);
    }
    rc = rc ? rc : derive_key(c->secret_access_key, r, k);
    rc = rc ? rc : hmac(k, 32, sts.data, sts.len, mac);
    OPENSSL_cleanse(k, sizeof k);
    size_t mark = auth->len;
    if (rc == 0) {
        to_hex(mac, 32, sig);
        rc = gd_buf_printf(auth,
                           "AWS4-HMAC-SHA256 Credential=%s/%.8s/%s/%s/aws4_request, "
                           "SignedHeaders=",
                           c->access_key_id, r->amz_date, r->region, r->service);
        rc = rc ? rc : put_signed_names(auth, r, has_token(c));
        rc = rc ? rc : gd_buf_puts(auth, ", Signature=");
        rc = rc ? rc : gd_buf_puts(auth, sig);
        if (rc && auth->data) {
            auth->len = mark;
            auth->data[mark] = '\0';
        }
    }
    if (rc == 0 && payload_hex)
        memcpy(payload_hex, ph, 65);
    gd_buf_free(&cr);
    gd_buf_free(&sts);
    return rc;
}
