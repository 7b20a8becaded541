/* Response head parser (see http_client_parse.h). The head is located first (CRLF CRLF,
 * searched once per byte thanks to *scan), then validated line by line. */
#include "net/http_client_parse.h"
#include "girder/error.h"

#include <string.h>
#include <strings.h>

static long pfail(struct gd_hc_head *h, const char *why)
{
    h->error = why;
    return GD_EPARSE;
}

static int is_tchar(unsigned char c)
{
    return (c >= '0' && c <= '9') || ((c | 0x20) >= 'a' && (c | 0x20) <= 'z') ||
           (c && strchr("!#$%&'*+-.^_`|~", c));
}

/* A field value or reason byte: HTAB, SP, VCHAR, obs-text. */
static int is_text(unsigned char c)
{
    return c == '\t' || (c >= 0x20 && c != 0x7f);
}

static int eq_nocase(struct gd_slice s, const char *lit)
{
    size_t n = strlen(lit);
    return s.n == n && strncasecmp(s.p, lit, n) == 0;
}

/* Connection: a comma list of tokens; we only care about close and keep-alive. */
static void scan_connection(struct gd_slice v, int *close, int *keep)
{
    size_t i = 0;
    while (i < v.n) {
        while (i < v.n && (v.p[i] == ',' || v.p[i] == ' ' || v.p[i] == '\t'))
            i++;
        size_t s = i;
        while (i < v.n && v.p[i] != ',' && v.p[i] != ' ' && v.p[i] != '\t')
            i++;
        struct gd_slice t = {v.p + s, i - s};
        if (eq_nocase(t, "close"))
            *close = 1;
        else if (eq_nocase(t, "keep-alive"))
            *keep = 1;
    }
}

static long status_line(const char *p, size_t n, struct gd_hc_head *h)
{
    if (n < 12 || memcmp(p, "HTTP/1.", 7) != 0 || (p[7] != '0' && p[7] != '1') || p[8] != ' ')
        return pfail(h, "invalid status line");
    h->minor_version = p[7] - '0';
    int st = 0;
    for (int i = 9; i < 12; i++) {
        if (p[i] < '0' || p[i] > '9')
            return pfail(h, "invalid status code");
        st = st * 10 + (p[i] - '0');
    }
    if (st < 100 || st > 599)
        return pfail(h, "status code out of range");
    h->status = st;
    if (n > 12 && p[12] != ' ')
        return pfail(h, "invalid status line");
    for (size_t i = 13; i < n; i++)
        if (!is_text((unsigned char)p[i]))
            return pfail(h, "control byte in reason phrase");
    h->reason.p = n > 13 ? p + 13 : p + n;
    h->reason.n = n > 13 ? n - 13 : 0;
    return 0;
}

/* One field line (without CRLF) into *out. */
static long field_line(const char *p, size_t n, struct gd_http_header *out, struct gd_hc_head *h)
{
    size_t i = 0;
    if (n && (p[0] == ' ' || p[0] == '\t'))
        return pfail(h, "obsolete line folding");
    while (i < n && is_tchar((unsigned char)p[i]))
        i++;
    if (i == 0 || i >= n || p[i] != ':')
        return pfail(h, "invalid header name");
    out->name.p = p;
    out->name.n = i;
    size_t vs = i + 1, ve = n;
    while (vs < n && (p[vs] == ' ' || p[vs] == '\t'))
        vs++;
    while (ve > vs && (p[ve - 1] == ' ' || p[ve - 1] == '\t'))
        ve--;
    /* NUL, CR and LF never get here (check_bytes); other control bytes are kept (RFC 9110
     * §5.5 allows it): whoever uses a value checks it (the gateway relays none such). */
    out->value.p = p + vs;
    out->value.n = ve - vs;
    return 0;
}

struct framing_state {
    int have_cl, have_te, close, keep;
};

static long note_header(const struct gd_http_header *f, struct framing_state *fs,
                        struct gd_hc_head *h)
{
    if (eq_nocase(f->name, "content-length")) {
        if (fs->have_cl)
            return pfail(h, "duplicate Content-Length");
        if (f->value.n == 0 || f->value.n > 19)
            return pfail(h, "invalid Content-Length");
        uint64_t v = 0;
        for (size_t i = 0; i < f->value.n; i++) {
            char c = f->value.p[i];
            if (c < '0' || c > '9')
                return pfail(h, "invalid Content-Length");
            v = v * 10 + (uint64_t)(c - '0');
        }
        fs->have_cl = 1;
        h->content_length = v;
    } else if (eq_nocase(f->name, "transfer-encoding")) {
        if (fs->have_te)
            return pfail(h, "duplicate Transfer-Encoding");
        if (!eq_nocase(f->value, "chunked"))
            return pfail(h, "unsupported Transfer-Encoding");
        fs->have_te = 1;
    } else if (eq_nocase(f->name, "connection")) {
        scan_connection(f->value, &fs->close, &fs->keep);
    }
    return 0;
}

static void decide_framing(struct gd_hc_head *h, const struct framing_state *fs)
{
    int persistent = h->minor_version == 1 ? !fs->close : fs->keep && !fs->close;
    if ((h->status >= 100 && h->status < 200) || h->status == 204 || h->status == 304)
        h->framing = GD_HC_BODY_NONE;
    else if (fs->have_te)
        h->framing = GD_HC_BODY_CHUNKED;
    else if (fs->have_cl)
        h->framing = GD_HC_BODY_LENGTH;
    else
        h->framing = GD_HC_BODY_CLOSE;
    h->keep_alive = persistent && h->framing != GD_HC_BODY_CLOSE;
}

/* Finds the end of the head: returns its length, 0 when not there yet. */
static size_t find_end(const char *buf, size_t len, size_t *scan)
{
    size_t i = *scan > 3 ? *scan - 3 : 0;
    for (; i + 3 < len; i++) {
        const char *q = memchr(buf + i, '\r', len - 3 - i);
        if (!q)
            break;
        i = (size_t)(q - buf);
        if (q[1] == '\n' && q[2] == '\r' && q[3] == '\n')
            return i + 4;
    }
    *scan = len;
    return 0;
}

/* Every LF preceded by CR, every CR followed by LF, no NUL. partial: p is the start of a
 * head still arriving (a CR may end it: its LF is on the way). */
static long check_bytes(const char *p, size_t n, int partial, struct gd_hc_head *h)
{
    for (size_t i = 0; i < n; i++) {
        char c = p[i];
        if (c == '\0')
            return pfail(h, "NUL in response head");
        if (c == '\n' && (i == 0 || p[i - 1] != '\r'))
            return pfail(h, "bare LF in response head");
        if (c == '\r' && (i + 1 >= n ? !partial : p[i + 1] != '\n'))
            return pfail(h, "bare CR in response head");
    }
    return 0;
}

long gd_hc_parse_head(const char *buf, size_t len, size_t max_bytes, struct gd_http_header *hdrs,
                      size_t max_headers, struct gd_hc_head *h, size_t *scan)
{
    memset(h, 0, sizeof *h);
    size_t end = find_end(buf, len < max_bytes ? len : max_bytes, scan);
    if (end == 0) {
        /* fail early on what can never become a head (not HTTP, bare LF, NUL) rather than
         * wait for a CRLF CRLF that a broken upstream may never send */
        size_t k = len < 5 ? len : 5;
        if (memcmp(buf, "HTTP/", k) != 0)
            return pfail(h, "invalid status line");
        long rc = check_bytes(buf, len < max_bytes ? len : max_bytes, 1, h);
        if (rc != 0)
            return rc;
        if (len >= max_bytes) {
            h->error = "response head too large";
            return GD_ELIMIT;
        }
        return 0;
    }
    long rc = check_bytes(buf, end, 0, h);
    const char *eol = rc ? NULL : memchr(buf, '\r', end);
    if (rc || (rc = status_line(buf, (size_t)(eol - buf), h)) != 0)
        return rc;
    struct framing_state fs = {0, 0, 0, 0};
    const char *p = eol + 2, *stop = buf + end - 2;
    while (p < stop) {
        const char *e = memchr(p, '\r', (size_t)(stop - p));
        if (h->n_headers >= max_headers) {
            h->error = "too many response headers";
            return GD_ELIMIT;
        }
        struct gd_http_header *f = &hdrs[h->n_headers];
        if ((rc = field_line(p, (size_t)(e - p), f, h)) != 0 || (rc = note_header(f, &fs, h)) != 0)
            return rc;
        h->n_headers++;
        p = e + 2;
    }
    if (fs.have_cl && fs.have_te)
        return pfail(h, "both Content-Length and Transfer-Encoding");
    decide_framing(h, &fs);
    return (long)end;
}
