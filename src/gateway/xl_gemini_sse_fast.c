/* Fast path of the Gemini stream translator (xl_gemini.h, gd_xl_gem_sse_fast).
 *
 * Almost every event of a streamGenerateContent answer is one candidate with text parts:
 *   {"candidates":[{"content":{"parts":[{"text":"..."}],"role":"model"},"index":0}],
 *    "usageMetadata":{...},"modelVersion":"...","responseId":"..."}
 * maybe with a finishReason. Such an event is checked by a scanner over its bytes (any key
 * order, any JSON whitespace) that records where the texts are, the usage counts and the
 * finishReason, and only then writes the chunks with the writers the general path uses, so
 * the output is byte for byte the general path's. Text strings go out as they arrived when
 * their bytes are already what gd_json_put_str writes; others are decoded as cJSON decodes
 * them and written through gd_json_put_str.
 *
 * The scanner declines (the general path then decides, errors included) on anything it is not
 * sure to translate identically: the first event (id and model), an "error" key, zero or
 * several candidates, parts other than text / thought / thoughtSignature (functionCall,
 * inlineData, ...), safetyRatings that say "blocked", usage counts that are not plain
 * integers, escaped keys, a duplicate key it reads, \u0000 and unpaired surrogates, numbers
 * cJSON reads differently (non-strict JSON, over 40 characters), nesting deeper than
 * SCAN_DEPTH, more than SCAN_PARTS text parts, and bytes after the object.
 *
 * An event whose bytes around its one text are those of the last such event is not scanned
 * again but for its text (from_memo). */
#include "gateway/xl_gemini.h"
#include "core/json_write.h"
#include "girder/error.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define SCAN_PARTS 16 /* text parts of one event */
#define SCAN_DEPTH 32 /* nesting inside skipped values */
#define SCAN_NUM 40   /* characters of a number */

struct scan {
    const unsigned char *p, *end;
};

/* A string's bytes between its quotes. */
struct str {
    const char *at;
    size_t n;
    int escaped;   /* holds a backslash */
    int canonical; /* the bytes are what gd_json_put_str writes for the decoded text */
};

struct fast_ev {
    struct str text[SCAN_PARTS];
    int n_text;
    int has_usage;
    int64_t usage[5]; /* prompt, candidates, thoughts, total, cached; -1: absent */
    const char *fr;   /* finishReason (not escaped), NULL when absent */
    size_t fr_n;
};

static void ws(struct scan *sc)
{
    while (sc->p < sc->end && (*sc->p == ' ' || *sc->p == '\t' || *sc->p == '\n' || *sc->p == '\r'))
        sc->p++;
}

static int at(struct scan *sc, char c)
{
    return sc->p < sc->end && *sc->p == (unsigned char)c;
}

static int hex4(const unsigned char *p, unsigned *v)
{
    *v = 0;
    for (int i = 0; i < 4; i++) {
        unsigned c = p[i], d;
        if (c >= '0' && c <= '9')
            d = c - '0';
        else if ((c | 0x20) >= 'a' && (c | 0x20) <= 'f')
            d = (c | 0x20) - 'a' + 10;
        else
            return 0;
        *v = *v << 4 | d;
    }
    return 1;
}

/* The \u escape at p (p[0] == '\\', p[1] == 'u', n bytes left): its code point and length
 * (6, or 12 for a surrogate pair), 0 when cJSON would refuse it or decode it to a NUL. */
static size_t u_escape(const unsigned char *p, size_t n, unsigned *cp)
{
    unsigned lo;
    if (n < 6 || !hex4(p + 2, cp) || *cp == 0 || (*cp >= 0xdc00 && *cp <= 0xdfff))
        return 0;
    if (*cp < 0xd800 || *cp > 0xdbff)
        return 6;
    if (n < 12 || p[6] != '\\' || p[7] != 'u' || !hex4(p + 8, &lo) || lo < 0xdc00 || lo > 0xdfff)
        return 0;
    *cp = 0x10000 + (((*cp & 0x3ff) << 10) | (lo & 0x3ff));
    return 12;
}

/* Bytes a string holds as they are in what gd_json_put_str writes: printable ASCII but
 * the quote and the backslash. */
static const unsigned char as_is[256] = {
    [0x20] = 1,
    [0x21] = 1,
    [0x23 ... 0x5b] = 1,
    [0x5d ... 0x7f] = 1,
};

/* Whether any of the 8 bytes at p is not as_is (a quote, a backslash, a control byte or a
 * byte >= 0x80): the word-at-a-time zero-byte tests. */
static int special8(const unsigned char *p)
{
    const uint64_t lo = 0x0101010101010101u, hi = 0x8080808080808080u;
    uint64_t w, q, b;
    memcpy(&w, p, 8);
    q = w ^ (lo * '"');
    b = w ^ (lo * '\\');
    return ((w | ((w - lo * 0x20) & ~w) | ((q - lo) & ~q) | ((b - lo) & ~b)) & hi) != 0;
}

/* The string whose opening quote is at sc->p; 0, or -1 to decline. */
static int scan_string(struct scan *sc, struct str *o)
{
    const unsigned char *p = sc->p + 1, *end = sc->end;
    o->at = (const char *)p;
    o->escaped = 0;
    o->canonical = 1;
    while (p < end) {
        while (end - p >= 8 && !special8(p))
            p += 8; /* the usual bytes, eight at a time */
        while (p < end && as_is[*p])
            p++;
        if (p == end)
            break;
        unsigned c = *p;
        if (c == '"') {
            o->n = (size_t)(p - (const unsigned char *)o->at);
            sc->p = p + 1;
            return 0;
        }
        if (c == '\\') {
            unsigned cp;
            size_t l;
            if (end - p < 2)
                return -1;
            o->escaped = 1;
            if (p[1] == 'u') {
                if (!(l = u_escape(p, (size_t)(end - p), &cp)))
                    return -1;
                o->canonical = 0;
                p += l;
            } else if (p[1] == '/') {
                o->canonical = 0;
                p += 2;
            } else if (p[1] && memchr("\"\\bfnrt", p[1], 7)) {
                p += 2;
            } else {
                return -1;
            }
        } else if (c < 0x80) {
            if (c == 0)
                return -1; /* cJSON's string would end there */
            if (c < 0x20)
                o->canonical = 0;
            p++;
        } else {
            size_t l = gd_xl_utf8_len(p, (size_t)(end - p));
            if (!l)
                o->canonical = 0; /* copied by cJSON, written as \ufffd by gd_json_put_str */
            p += l ? l : 1;
        }
    }
    return -1;
}

/* The string s decoded as cJSON decodes it (s holds no \u0000 nor a bad escape: scan_string
 * checked) into dst (at least s->n bytes); returns the decoded length. */
static size_t decode(const struct str *s, char *dst)
{
    const unsigned char *p = (const unsigned char *)s->at, *end = p + s->n;
    size_t o = 0;
    while (p < end) {
        if (*p != '\\') {
            dst[o++] = (char)*p++;
            continue;
        }
        unsigned cp;
        size_t l = 2;
        switch (p[1]) {
        case 'b':
            dst[o++] = '\b';
            break;
        case 'f':
            dst[o++] = '\f';
            break;
        case 'n':
            dst[o++] = '\n';
            break;
        case 'r':
            dst[o++] = '\r';
            break;
        case 't':
            dst[o++] = '\t';
            break;
        case 'u':
            l = u_escape(p, (size_t)(end - p), &cp);
            if (cp < 0x80) {
                dst[o++] = (char)cp;
            } else if (cp < 0x800) {
                dst[o++] = (char)(0xc0 | cp >> 6);
                dst[o++] = (char)(0x80 | (cp & 0x3f));
            } else if (cp < 0x10000) {
                dst[o++] = (char)(0xe0 | cp >> 12);
                dst[o++] = (char)(0x80 | (cp >> 6 & 0x3f));
                dst[o++] = (char)(0x80 | (cp & 0x3f));
            } else {
                dst[o++] = (char)(0xf0 | cp >> 18);
                dst[o++] = (char)(0x80 | (cp >> 12 & 0x3f));
                dst[o++] = (char)(0x80 | (cp >> 6 & 0x3f));
                dst[o++] = (char)(0x80 | (cp & 0x3f));
            }
            break;
        default:
            dst[o++] = (char)p[1]; /* " \ / */
        }
        p += l;
    }
    return o;
}

/* A strict JSON number; *ival its value when it is a plain integer of at most 15 digits (read
 * exactly as a double), else -1. 0, or -1 to decline. */
static int scan_number(struct scan *sc, int64_t *ival)
{
    const unsigned char *p = sc->p, *e = sc->end, *s = p;
    int plain = 1;
    if (p < e && *p == '-')
        p++, plain = 0;
    if (p < e && *p == '0')
        p++;
    else if (p < e && *p >= '1' && *p <= '9')
        while (p < e && *p >= '0' && *p <= '9')
            p++;
    else
        return -1;
    size_t digits = (size_t)(p - s);
    if (p < e && *p == '.') {
        plain = 0;
        if (++p >= e || *p < '0' || *p > '9')
            return -1;
        while (p < e && *p >= '0' && *p <= '9')
            p++;
    }
    if (p < e && (*p == 'e' || *p == 'E')) {
        plain = 0;
        if (++p < e && (*p == '+' || *p == '-'))
            p++;
        if (p >= e || *p < '0' || *p > '9')
            return -1;
        while (p < e && *p >= '0' && *p <= '9')
            p++;
    }
    if (p - s > SCAN_NUM)
        return -1; /* cJSON reads at most 63 characters of a number */
    *ival = -1;
    if (plain && digits <= 15) {
        *ival = 0;
        for (const unsigned char *q = s; q < p; q++)
            *ival = *ival * 10 + (*q - '0');
    }
    sc->p = p;
    return 0;
}

/* The next member of an object whose '{' was consumed: 1 with *key and the cursor on its
 * value, 0 at the closing '}', -1 to decline (malformed, or an escaped key). */
static int member(struct scan *sc, int *first, struct str *key)
{
    ws(sc);
    if (at(sc, '}')) {
        sc->p++;
        return 0;
    }
    if (!*first) {
        if (!at(sc, ','))
            return -1;
        sc->p++;
        ws(sc);
    }
    *first = 0;
    if (!at(sc, '"') || scan_string(sc, key) || key->escaped)
        return -1;
    ws(sc);
    if (!at(sc, ':'))
        return -1;
    sc->p++;
    ws(sc);
    return 1;
}

/* The next element of an array whose '[' was consumed: 1 with the cursor on it, 0 at ']'. */
static int element(struct scan *sc, int *first)
{
    ws(sc);
    if (at(sc, ']')) {
        sc->p++;
        return 0;
    }
    if (!*first) {
        if (!at(sc, ','))
            return -1;
        sc->p++;
        ws(sc);
    }
    *first = 0;
    return 1;
}

static int begin(struct scan *sc, char c)
{
    ws(sc);
    if (!at(sc, c))
        return -1;
    sc->p++;
    return 0;
}

static int key_eq(const struct str *k, const char *name, size_t n)
{
    return k->n == n && memcmp(k->at, name, n) == 0;
}
#define key_is(k, lit) key_eq(k, lit, sizeof lit - 1)

static int literal(struct scan *sc, const char *w)
{
    size_t n = strlen(w);
    if ((size_t)(sc->end - sc->p) < n || memcmp(sc->p, w, n) != 0)
        return -1;
    sc->p += n;
    return 0;
}

/* Any JSON value, checked and passed over. */
static int skip_value(struct scan *sc, int depth)
{
    struct str s;
    int64_t v;
    int first = 1, r;
    if (sc->p >= sc->end || depth > SCAN_DEPTH)
        return -1;
    switch (*sc->p) {
    case '"':
        return scan_string(sc, &s);
    case 't':
        return literal(sc, "true");
    case 'f':
        return literal(sc, "false");
    case 'n':
        return literal(sc, "null");
    case '{':
        sc->p++;
        while ((r = member(sc, &first, &s)) == 1)
            if (skip_value(sc, depth + 1))
                return -1;
        return r;
    case '[':
        sc->p++;
        while ((r = element(sc, &first)) == 1)
            if (skip_value(sc, depth + 1))
                return -1;
        return r;
    default:
        return scan_number(sc, &v);
    }
}

/* {"text":"..","thought":bool,"thoughtSignature":".."}: a text to write, unless a thought. */
static int scan_part(struct scan *sc, struct fast_ev *ev)
{
    struct str k, text;
    int first = 1, r, has_text = 0, thought = 0, seen = 0;
    if (begin(sc, '{'))
        return -1;
    while ((r = member(sc, &first, &k)) == 1) {
        int bit = key_is(&k, "text") ? 1 : key_is(&k, "thought") ? 2 : 0;
        if (bit & seen)
            return -1;
        seen |= bit;
        if (bit == 1) {
            if (!at(sc, '"') || scan_string(sc, &text))
                return -1;
            has_text = 1;
        } else if (bit == 2) {
            if (literal(sc, "true") == 0)
                thought = 1;
            else if (literal(sc, "false"))
                return -1;
        } else if (!key_is(&k, "thoughtSignature") || skip_value(sc, 1)) {
            return -1; /* functionCall, inlineData, ...: the general path */
        }
    }
    if (r < 0)
        return -1;
    if (has_text && text.n && !thought) {
        if (ev->n_text == SCAN_PARTS)
            return -1;
        ev->text[ev->n_text++] = text;
    }
    return 0;
}

static int scan_content(struct scan *sc, struct fast_ev *ev)
{
    struct str k;
    int first = 1, r, parts = 0;
    if (begin(sc, '{'))
        return -1;
    while ((r = member(sc, &first, &k)) == 1) {
        if (!key_is(&k, "parts")) {
            if (skip_value(sc, 1))
                return -1;
            continue;
        }
        int pf = 1, pr;
        if (parts++ || begin(sc, '['))
            return -1;
        while ((pr = element(sc, &pf)) == 1)
            if (scan_part(sc, ev))
                return -1;
        if (pr < 0)
            return -1;
    }
    return r;
}

static int scan_candidate(struct scan *sc, struct fast_ev *ev)
{
    struct str k, fr;
    int first = 1, r, seen = 0;
    if (begin(sc, '{'))
        return -1;
    while ((r = member(sc, &first, &k)) == 1) {
        int bit = key_is(&k, "content") ? 1 : key_is(&k, "finishReason") ? 2 : 0;
        if (bit & seen)
            return -1;
        seen |= bit;
        if (bit == 1) {
            if (scan_content(sc, ev))
                return -1;
        } else if (bit == 2) {
            if (!at(sc, '"') || scan_string(sc, &fr) || fr.escaped)
                return -1;
            ev->fr = fr.at;
            ev->fr_n = fr.n;
        } else {
            const unsigned char *v = sc->p;
            if (skip_value(sc, 1))
                return -1;
            if (key_is(&k, "safetyRatings") &&
                memmem(v, (size_t)(sc->p - v), "\"blocked\"", 9)) /* a block: general path */
                return -1;
        }
    }
    return r;
}

static int scan_usage(struct scan *sc, struct fast_ev *ev)
{
#define K(lit)                                                                                     \
    {                                                                                              \
        lit, sizeof lit - 1                                                                        \
    }
    static const struct {
        const char *name;
        size_t n;
    } keys[5] = {K("promptTokenCount"), K("candidatesTokenCount"), K("thoughtsTokenCount"),
                 K("totalTokenCount"), K("cachedContentTokenCount")};
#undef K
    struct str k;
    int first = 1, r, seen = 0;
    if (begin(sc, '{'))
        return -1;
    for (int i = 0; i < 5; i++)
        ev->usage[i] = -1;
    while ((r = member(sc, &first, &k)) == 1) {
        int i = 0;
        while (i < 5 && !key_eq(&k, keys[i].name, keys[i].n))
            i++;
        if (i == 5) {
            if (skip_value(sc, 1))
                return -1;
            continue;
        }
        if (seen & (1 << i) || scan_number(sc, &ev->usage[i]) || ev->usage[i] < 0)
            return -1;
        seen |= 1 << i;
    }
    ev->has_usage = 1;
    return r;
}

static int scan_event(struct scan *sc, struct fast_ev *ev)
{
    struct str k;
    int first = 1, r, seen = 0;
    if (begin(sc, '{'))
        return -1;
    while ((r = member(sc, &first, &k)) == 1) {
        int bit = key_is(&k, "candidates") ? 1 : key_is(&k, "usageMetadata") ? 2 : 0;
        if (bit & seen || key_is(&k, "error"))
            return -1;
        seen |= bit;
        if (bit == 1) {
            int cf = 1;
            if (begin(sc, '[') || element(sc, &cf) != 1 || scan_candidate(sc, ev) ||
                element(sc, &cf) != 0)
                return -1; /* none or several candidates: the general path */
        } else if (bit == 2) {
            if (scan_usage(sc, ev))
                return -1;
        } else if (skip_value(sc, 1)) {
            return -1;
        }
    }
    if (r < 0 || !(seen & 1))
        return -1;
    ws(sc);
    return sc->p == sc->end ? 0 : -1;
}

static int write_text(const struct gd_xl_gem_sse *s, struct gd_buf *b, const struct str *t)
{
    if (t->canonical)
        return gd_xl_gem_sse_text(s, b, t->at - 1, t->n + 2, 1);
    char stack[512];
    char *dst = t->n <= sizeof stack ? stack : malloc(t->n);
    if (!dst)
        return GD_ENOMEM;
    int rc = gd_xl_gem_sse_text(s, b, dst, decode(t, dst), 0);
    if (dst != stack)
        free(dst);
    return rc;
}

/* Most events of a stream differ from the one before only in their text: when the bytes
 * before and after a string are those around the last event's one text, the scanner (left to
 * right, the text a value) would read the event as it read that one but for the string, so
 * only the string is scanned. 1 with ev filled, 0 to scan the whole event. */
static int from_memo(const struct gd_xl_gem_sse *s, const char *data, size_t dlen,
                     struct fast_ev *ev)
{
    size_t pre = s->memo_pre, suf = s->memo_suf;
    if (!pre || dlen <= pre + suf || memcmp(data, s->memo, pre) != 0 ||
        memcmp(data + dlen - suf, s->memo + pre, suf) != 0)
        return 0;
    struct scan sc = {(const unsigned char *)data + pre - 1, (const unsigned char *)data + dlen};
    if (scan_string(&sc, &ev->text[0]) || (const char *)sc.p != data + dlen - suf + 1)
        return 0; /* the string ends elsewhere: not the same shape */
    ev->n_text = 1;
    ev->has_usage = s->memo_has_usage;
    memcpy(ev->usage, s->memo_usage, sizeof ev->usage);
    ev->fr = NULL;
    return 1;
}

/* Remembers the bytes around the one text of an event read in full (see from_memo). */
static void memo_store(struct gd_xl_gem_sse *s, const char *data, size_t dlen,
                       const struct fast_ev *ev)
{
    size_t pre = (size_t)(ev->text[0].at - data), suf = dlen - pre - ev->text[0].n;
    s->memo_pre = s->memo_suf = 0;
    if (pre + suf > sizeof s->memo)
        return;
    memcpy(s->memo, data, pre);
    memcpy(s->memo + pre, data + dlen - suf, suf);
    s->memo_pre = (uint16_t)pre;
    s->memo_suf = (uint16_t)suf;
    s->memo_has_usage = ev->has_usage;
    memcpy(s->memo_usage, ev->usage, sizeof s->memo_usage);
}

int gd_xl_gem_sse_fast(struct gd_xl_gem_sse *s, const char *data, size_t dlen, struct gd_buf *out,
                       int *rc)
{
    if (!s->started || s->finished || !data)
        return 0;
    struct fast_ev ev;
    char fr[64];
    const char *reason = NULL;
    int memo = from_memo(s, data, dlen, &ev);
    if (!memo) {
        struct scan sc = {(const unsigned char *)data, (const unsigned char *)data + dlen};
        ev.n_text = ev.has_usage = 0;
        ev.fr = NULL;
        if (scan_event(&sc, &ev))
            return 0;
    }
    if (ev.fr) {
        if (ev.fr_n >= sizeof fr)
            return 0;
        memcpy(fr, ev.fr, ev.fr_n);
        fr[ev.fr_n] = '\0';
        reason = gd_xl_gem_finish_reason(fr);
    }
    int64_t saved[4] = {s->prompt, s->completion, s->total, s->cached};
    size_t mark = out->len;
    if (ev.has_usage)
        gd_xl_gem_sse_set_usage(s, ev.usage[0], ev.usage[1], ev.usage[2], ev.usage[3], ev.usage[4]);
    *rc = 0;
    for (int i = 0; i < ev.n_text && *rc == 0; i++)
        *rc = write_text(s, out, &ev.text[i]);
    if (*rc == 0 && reason)
        *rc = gd_xl_gem_sse_finish(s, out, reason);
    if (*rc != 0) {
        out->len = mark; /* only the usage and finished change on the way */
        s->prompt = saved[0], s->completion = saved[1], s->total = saved[2], s->cached = saved[3];
        s->finished = 0;
    } else if (!memo && !reason && ev.n_text == 1) {
        memo_store(s, data, dlen, &ev);
    }
    return 1;
}
