/* Token classes that span several tokens, applied after a content is tokenized and before
 * adjacent variables merge (built-in masks only). Each rule keeps the token count of one event
 * the same whatever its parameter values are:
 *   - a unit after a number is part of the value: formatters pick the unit from the magnitude
 *     ("512 B" / "3.2 MB", "1 second" / "5 seconds", "10 KB/s");
 *   - a list is one value: items separated by ',' inside brackets ("[a, b, c]", "{x, y}"),
 *     and variables separated by ',' anywhere ("1, 2, 3"), whatever the number of items;
 *   - a path continues across a space when the next word carries on with a path separator
 *     or ends in a file name ("/home/u/My Documents/report final.pdf").
 * The tokens only change their variable flag here (merge_vars joins the run), so spans stay
 * exact and lines stay rebuildable byte for byte. */
#include "logmine/internal.h"

#include <string.h>

static int is_num_text(const char *p, size_t n)
{
    size_t d = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)p[i];
        if (c >= '0' && c <= '9')
            d++;
        else if (c != '.' && c != ',' && c != '-' && c != '+' && c != '_')
            return 0;
    }
    return d > 0 && p[n - 1] >= '0' && p[n - 1] <= '9';
}

/* Units whose choice follows the value: sizes, durations, rates (case as written). Checked
 * for most words after a number, so the table is by length and rejects fast. */
static int is_unit(const char *p, size_t n)
{
    static const char *const by_len[8] = {
        NULL,
        "BKMGsh",                         /* 1 */
        "KBMBGBTBPBkBKbMbGbnsusmshr",     /* 2 */
        "KiBMiBGiBTiBPiBbitsecminhrsday", /* 3 */
        "bytebitssecsminsdaysweekhour",   /* 4 */
        "bytesweekshours",                /* 5 */
        "secondminute",                   /* 6 */
        "secondsminutes",                 /* 7 */
    };
    if (n >= 3 && p[n - 2] == '/' && p[n - 1] == 's')
        n -= 2; /* rates: KB/s, MB/s */
    else if (n >= 5 && memcmp(p + n - 4, "/sec", 4) == 0)
        n -= 4;
    if (n == 0 || n >= 8)
        return 0;
    for (const char *u = by_len[n]; *u; u += n)
        if (u[0] == p[0] && memcmp(u, p, n) == 0)
            return 1;
    return 0;
}

static int tok_is(const char *s, const struct lm_tok *t, char c)
{
    return !t->var && t->len == 1 && s[t->off] == c;
}

static int is_open(const char *s, const struct lm_tok *t)
{
    return tok_is(s, t, '[') || tok_is(s, t, '{') || tok_is(s, t, '(');
}

static char closing(char c)
{
    return c == '[' ? ']' : c == '{' ? '}' : ')';
}

/* Punctuation that makes a token structure rather than a list item. */
static int is_struct(const char *s, const struct lm_tok *t)
{
    return !t->var && t->len == 1 && memchr("=:,;()[]{}\"'<>|", s[t->off], 15) != NULL;
}

/* [a, b, c]: an opening bracket, >= 2 single-token items separated by ',', the matching
 * closing bracket. Returns the index of the closing bracket, or 0 when this is no list. */
static size_t list_end(const char *s, const struct lm_tok *t, size_t n, size_t open)
{
    char close = closing(s[t[open].off]);
    size_t i = open + 1, items = 0;
    while (i < n) {
        if (is_struct(s, &t[i]) || t[i].len == 0)
            return 0;
        items++;
        i++;
        if (i < n && tok_is(s, &t[i], close))
            return items >= 2 ? i : 0;
        if (i >= n || !tok_is(s, &t[i], ','))
            return 0;
        i++;
    }
    return 0;
}

static int path_head(const char *p, size_t n)
{
    return n >= 2 && (p[0] == '/' || p[0] == '~' || p[0] == '.' || (n >= 3 && p[1] == ':')) &&
           (memchr(p, '/', n) || memchr(p, '\\', n));
}

/* "name.ext": a file name that ends a path with spaces. */
static int file_name(const char *p, size_t n)
{
    const char *dot = NULL;
    for (const char *q = p; q < p + n; q++)
        if (*q == '.')
            dot = q;
    if (!dot || dot == p || (size_t)(p + n - dot) > 6 || p + n - dot < 2)
        return 0;
    for (const char *q = p; q < p + n; q++)
        if (*q == '=' || *q == ':' || *q == ',')
            return 0;
    return 1;
}

void lm_token_classes(const char *s, struct lm_tok *t, size_t n)
{
    int in_path = 0; /* the previous token is a path variable (or continues one) */
    for (size_t i = 0; i < n; i++) {
        struct lm_tok *c = &t[i];
        const char *cs = s + c->off;
        if (is_open(s, c)) {
            size_t e = list_end(s, t, n, i);
            for (size_t k = i + 1; e && k < e; k++)
                t[k].var = 1, t[k].h = 0;
            if (e)
                i = e;
            in_path = 0;
            continue;
        }
        if (c->var) {
            in_path = path_head(cs, c->len) || (in_path && c->sp);
            continue;
        }
        const struct lm_tok *p = i ? &t[i - 1] : NULL;
        int cont = 0;
        if (p && c->sp && p->var && is_unit(cs, c->len) && is_num_text(s + p->off, p->len) &&
            !(i + 1 < n && !t[i + 1].sp &&
              (tok_is(s, &t[i + 1], '=') || tok_is(s, &t[i + 1], ':')))) {
            c->var = 1; /* 3.2 MB (but "200 bytes=512": a key) */
        } else if (in_path && c->sp && !memchr(cs, '=', c->len) &&
                   (memchr(cs, '/', c->len) || memchr(cs, '\\', c->len) || file_name(cs, c->len))) {
            c->var = 1, cont = 1; /* My Documents/report.pdf */
        } else if (p && p->var && tok_is(s, c, ',') && i + 1 < n && t[i + 1].var) {
            c->var = 1; /* 1, 2, 3 */
        }
        if (c->var)
            c->h = 0;
        in_path = cont;
    }
}
