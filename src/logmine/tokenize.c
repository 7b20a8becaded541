/* Tokenizer and masks.
 *
 * Template quality is decided here more than in the tree. A content is cut at whitespace
 * into words; regions matched by a user mask are single variable tokens wherever they fall.
 * Each word is then either one variable token (built-in masks: URLs, paths, IPv6 / MAC /
 * clock times made of hex digits and colons) or it is split at punctuation that separates
 * keys from values ('=' ':' ',' ';' brackets, quotes, a sentence-final '.'), each punctuation
 * character being a constant token of its own, so "size=42," gives "size" "=" <*> ",". With
 * the built-in masks on, a piece that contains a digit is a variable (numbers, hex, IPv4,
 * UUIDs, block ids, host-123 ...): the single most effective generic rule for log parsing.
 * Tokens keep their exact spans and whether whitespace preceded them, so a line can be
 * rebuilt byte for byte from its template, its parameters and its spacing. */
#include "logmine/internal.h"

#include "core/alloc.h"
#include "core/hash.h"
#include "girder/error.h"

#include <stdio.h>
#include <string.h>

#define MAX_RANGES 256

int lm_masks_init(struct lm_masks *mk, const char *const *pats, size_t n, char *err, size_t errn)
{
    mk->re = NULL;
    mk->md = NULL;
    if (n == 0)
        return 0;
    size_t total = 1;
    for (size_t i = 0; i < n; i++)
        total += strlen(pats[i]) + 5;
    char *alt = gd_malloc(total);
    if (!alt)
        return GD_ENOMEM;
    size_t o = 0;
    for (size_t i = 0; i < n; i++) /* (?:p1)|(?:p2)|...: leftmost match, earlier mask first */
        o += (size_t)snprintf(alt + o, total - o, "%s(?:%s)", i ? "|" : "", pats[i]);
    int ec;
    PCRE2_SIZE eo;
    mk->re = pcre2_compile((PCRE2_SPTR)alt, o, 0, &ec, &eo, NULL);
    gd_free(alt);
    if (!mk->re) {
        PCRE2_UCHAR msg[128];
        pcre2_get_error_message(ec, msg, sizeof msg);
        if (err && errn)
            snprintf(err, errn, "mask: %s", (const char *)msg);
        return GD_EPARSE;
    }
    (void)pcre2_jit_compile(mk->re, PCRE2_JIT_COMPLETE); /* interpreter if JIT unavailable */
    mk->md = pcre2_match_data_create_from_pattern(mk->re, NULL);
    return mk->md ? 0 : GD_ENOMEM;
}

void lm_masks_free(struct lm_masks *mk)
{
    pcre2_match_data_free(mk->md);
    pcre2_code_free(mk->re);
    mk->re = NULL;
    mk->md = NULL;
}

/* Character classes, one table lookup per byte in the hot loops. */
enum { C_WS = 1, C_DELIM = 2, C_DIGIT = 4, C_ALPHA = 8, C_SLASH = 16, C_KV = 32 };
#define D_(c) [c] = C_DELIM
static const uint8_t cls[256] = {
    [' '] = C_WS,
    ['\t'] = C_WS,
    ['\n'] = C_WS,
    ['\v'] = C_WS,
    ['\f'] = C_WS,
    ['\r'] = C_WS,
    D_(','),
    D_(';'),
    D_('('),
    D_(')'),
    D_('['),
    D_(']'),
    D_('{'),
    D_('}'),
    D_('"'),
    D_('\''),
    D_('<'),
    D_('>'),
    D_('|'),
    ['='] = C_DELIM | C_KV,
    [':'] = C_DELIM | C_KV,
    ['0'] = C_DIGIT,
    ['1'] = C_DIGIT,
    ['2'] = C_DIGIT,
    ['3'] = C_DIGIT,
    ['4'] = C_DIGIT,
    ['5'] = C_DIGIT,
    ['6'] = C_DIGIT,
    ['7'] = C_DIGIT,
    ['8'] = C_DIGIT,
    ['9'] = C_DIGIT,
    ['/'] = C_SLASH,
    ['\\'] = C_SLASH,
#define A_(c) [c] = C_ALPHA, [c + 32] = C_ALPHA
    A_('A'),
    A_('B'),
    A_('C'),
    A_('D'),
    A_('E'),
    A_('F'),
    A_('G'),
    A_('H'),
    A_('I'),
    A_('J'),
    A_('K'),
    A_('L'),
    A_('M'),
    A_('N'),
    A_('O'),
    A_('P'),
    A_('Q'),
    A_('R'),
    A_('S'),
    A_('T'),
    A_('U'),
    A_('V'),
    A_('W'),
    A_('X'),
    A_('Y'),
    A_('Z'),
#undef A_
};
#undef D_

static inline int is_ws(unsigned char c)
{
    return cls[c] & C_WS;
}
static inline int is_delim(unsigned char c)
{
    return cls[c] & C_DELIM;
}
static inline int is_digit(unsigned char c)
{
    return cls[c] & C_DIGIT;
}

struct range {
    uint32_t a, b;
};

/* Non-empty, non-overlapping mask matches in order. */
static int find_ranges(const struct lm_masks *mk, const char *s, size_t n, struct range *r)
{
    int nr = 0;
    size_t off = 0;
    while (mk->re && off < n && nr < MAX_RANGES) {
        int rc = pcre2_match(mk->re, (PCRE2_SPTR)s, n, off, 0, mk->md, NULL);
        if (rc < 0)
            break; /* no match, or a match/depth limit: mask nothing more */
        PCRE2_SIZE *ov = pcre2_get_ovector_pointer(mk->md);
        if (ov[1] <= ov[0]) {
            off = ov[0] + 1;
            continue;
        }
        if (nr && ov[0] < r[nr - 1].b)
            r[nr - 1].b = (uint32_t)ov[1];
        else
            r[nr++] = (struct range){(uint32_t)ov[0], (uint32_t)ov[1]};
        off = ov[1];
    }
    return nr;
}

static inline int is_hexc(unsigned char c)
{
    return (c >= '0' && c <= '9') || ((c | 0x20) >= 'a' && (c | 0x20) <= 'f');
}

int lm_builtin_var(const char *str, size_t n)
{
    const unsigned char *s = (const unsigned char *)str;
    size_t slashes = 0, colons = 0, digits = 0, hexcolon = 1;
    for (size_t i = 0; i < n; i++) {
        slashes += s[i] == '/' || s[i] == '\\';
        colons += s[i] == ':';
        digits += is_digit(s[i]) != 0;
        if (!is_hexc(s[i]) && s[i] != ':' && s[i] != '.')
            hexcolon = 0;
    }
    if (colons && n >= 4 && memmem(s, n, "://", 3))
        return 1; /* URL */
    if (hexcolon && colons >= 2 && digits)
        return 1; /* IPv6, MAC, hh:mm:ss(.fff) */
    if (n >= 3 && (s[0] == '/' || s[0] == '~' || s[0] == '.') && slashes >= 2)
        return 1; /* Unix path */
    if (n >= 3 && ((s[0] | 0x20) >= 'a' && (s[0] | 0x20) <= 'z') && s[1] == ':' && s[2] == '\\')
        return 1; /* Windows path */
    return 0;
}

static unsigned char closer(unsigned char c)
{
    switch (c) {
    case '(':
        return ')';
    case '[':
        return ']';
    case '{':
        return '}';
    case '<':
        return '>';
    case '"':
        return '"';
    case '\'':
        return '\'';
    default:
        return 0;
    }
}

/* Month and weekday abbreviations (capitalised) are parts of timestamps. */
static int is_date_word(const char *s, size_t n)
{
    static const char names[] = "JanFebMarAprMayJunJulAugSepOctNovDecMonTueWedThuFriSatSun";
    if (n != 3)
        return 0;
    for (size_t i = 0; i < sizeof names - 1; i += 3)
        if (memcmp(names + i, s, 3) == 0)
            return 1;
    return 0;
}

struct tk {
    const char *s;
    struct lm_tok *t;
    size_t cap, nt;
    int sp;
};

static inline void emit(struct tk *k, size_t a, size_t b, int var)
{
    struct lm_tok *t = &k->t[k->nt++];
    t->off = (uint32_t)a;
    t->len = (uint32_t)(b - a);
    t->var = (uint8_t)var;
    t->sp = (uint8_t)k->sp;
    t->h = var ? 0 : lm_hash(k->s + a, b - a);
    k->sp = 0;
}

/* Does [a,b) open what `close` closes? (For quotes: an odd number of them.) */
static int has_opener(const unsigned char *s, size_t a, size_t b, unsigned char close)
{
    size_t quotes = 0;
    for (size_t i = a; i < b; i++) {
        if (close == '"' && s[i] == '"')
            quotes++;
        else if (closer(s[i]) == close && s[i] != close)
            return 1;
    }
    return quotes & 1;
}

/* Hex without a digit ("ffffffff", "deadbeef", "CAFEBABE"): 8 or more of a-f in one case.
 * English words that long made of those six letters hardly exist. */
static int hex_letters(const unsigned char *p, size_t n)
{
    if (n < 8)
        return 0;
    int lower = p[0] >= 'a';
    for (size_t i = 0; i < n; i++)
        if (lower ? p[i] < 'a' || p[i] > 'f' : p[i] < 'A' || p[i] > 'F')
            return 0;
    return 1;
}

/* Length of an endpoint at the start of p[0..n): "[IPv6]" or "[IPv6]:port", and
 * "a.b.c.d:port" (a bare IPv4 is a value by the digit rule already); 0 if none. So the two
 * address families give an endpoint parameter the same token count. */
static size_t endpoint(const unsigned char *p, size_t n)
{
    size_t i = 0, colons = 0, dots = 0, digits = 0;
    if (n && p[0] == '[') {
        for (i = 1; i < n && (is_hexc(p[i]) || p[i] == ':' || p[i] == '.'); i++)
            colons += p[i] == ':';
        if (i >= n || p[i] != ']' || colons < 2)
            return 0;
        i++;
    } else {
        for (; i < n && (is_digit(p[i]) || p[i] == '.'); i++)
            dots += p[i] == '.';
        if (dots != 3 || i >= n || p[i] != ':')
            return 0;
    }
    if (i + 1 < n && p[i] == ':' && is_digit(p[i + 1])) {
        for (i++; i < n && is_digit(p[i]); i++)
            digits++;
    }
    return p[0] == '[' || digits ? i : 0;
}

/* A word that is one double-quoted string ("gus", "a b c", then only punctuation): the end of
 * its closing quote, else 0. A quoted value is one token however many words it holds. */
static size_t quoted_word(const unsigned char *s, size_t a, size_t b)
{
    const unsigned char *q;
    if (s[a] != '"' || a + 1 >= b || !(q = memchr(s + a + 1, '"', b - a - 1)))
        return 0;
    for (const unsigned char *r = q + 1; r < s + b; r++)
        if (!is_delim(*r) && *r != '.')
            return 0;
    return (size_t)(q - s) + 1;
}

/* Is piece [a,b) a variable under the built-in masks? Digits make a variable, except one
 * trailing digit after letters ("eth0", "alt0", "utf8": names, not values). */
static int piece_var(const unsigned char *s, size_t a, size_t b)
{
    const unsigned char *p = s + a;
    size_t n = b - a, i = 0;
    while (i < n && !(cls[p[i]] & C_DIGIT))
        i++;
    if (i == n) /* no digit */
        return (n == 3 && is_date_word((const char *)p, 3)) || hex_letters(p, n);
    if (i == n - 1 && i >= 2) { /* letters and one trailing digit: a name */
        size_t j = 0;
        while (j < i && (cls[p[j]] & C_ALPHA))
            j++;
        return j != i;
    }
    return 1;
}

/* End of the value that starts at i (after '=' or ':'): the next ',' ';' or a closing
 * bracket that was not opened inside the value. */
static size_t value_end(const unsigned char *s, size_t i, size_t b)
{
    int depth = 0;
    for (; i < b; i++) {
        unsigned char c = s[i];
        if (c == ',' || c == ';')
            break;
        if (c == '"') {
            const unsigned char *q = memchr(s + i + 1, '"', b - i - 1);
            if (q)
                i = (size_t)(q - s);
            continue;
        }
        if (c == '(' || c == '[' || c == '{' || c == '<')
            depth++;
        else if (c == ')' || c == ']' || c == '}' || c == '>') {
            if (depth == 0)
                break;
            depth--;
        }
    }
    return i;
}

static size_t split_word(struct tk *k, size_t a, size_t b, int dm, int at_end);

/* Leader dots inside a word ("instruction......0") pad to a column: the run is a variable
 * separator. Trailing dots ("wait...") and path parts ("a/../b") are left alone.
 * Returns 1 and sets *end when it handled the word. */
static int split_dots(struct tk *k, size_t a, size_t b, int at_end, size_t *end)
{
    const unsigned char *s = (const unsigned char *)k->s;
    size_t dd = a + 1;
    while (dd + 1 < b && !(s[dd] == '.' && s[dd + 1] == '.'))
        dd++;
    if (dd + 1 >= b)
        return 0;
    size_t de = dd;
    while (de < b && s[de] == '.')
        de++;
    if (de == b || s[de] == '/' || s[dd - 1] == '/')
        return 0;
    *end = split_word(k, a, dd, 1, 0);
    if (*end < dd || k->nt + 1 >= k->cap)
        return 1;
    emit(k, dd, de, 1);
    *end = split_word(k, de, b, 1, at_end);
    return 1;
}

/* The punctuation at i-1 was just emitted: an empty value after it ("key= ", "()", "''")
 * is a variable that happens to be empty; after '=' or ':' the value up to the next
 * separator is one token. Returns the new position. */
static size_t after_delim(struct tk *k, size_t i, size_t cb, size_t b, int at_end)
{
    const unsigned char *s = (const unsigned char *)k->s;
    unsigned char d = s[i - 1];
    if (i < b ? s[i] == closer(d) || (d == '=' && (s[i] == ',' || s[i] == ';'))
              : d == '=' && at_end) {
        emit(k, i, i, 1);
    } else if ((d == '=' || d == ':') && i < cb && (!is_delim(s[i]) || s[i] == '"')) {
        size_t j = value_end(s, i, cb);
        emit(k, i, j, piece_var(s, i, j));
        i = j;
    }
    return i;
}

/* Splits one word [a,b) (see the file comment). Returns where it stopped: b, or earlier when
 * the token cap was reached (the caller makes the rest one token). */
static size_t split_word(struct tk *k, size_t a, size_t b, int dm, int at_end)
{
    const unsigned char *s = (const unsigned char *)k->s;
    size_t i = a, ca = a, cb = b; /* core: without leading/trailing punctuation */
    if (dm && split_dots(k, a, b, at_end, &i))
        return i;
    size_t e = dm ? quoted_word(s, a, b) : 0;
    if (!e && dm && (e = endpoint(s + a, b - a)) != 0) {
        size_t r = a + e; /* only punctuation may follow */
        while (r < b && (is_delim(s[r]) || s[r] == '.'))
            r++;
        e = r == b ? a + e : 0;
    }
    if (e) { /* one value token, then the punctuation after it */
        /* a quoted value is a variable by the usual rules on its inside (digits, a path, a
         * URL), or when it is "-", the empty value of quoted fields (access logs) */
        int var = 1;
        if (s[a] == '"')
            var = piece_var(s, a, e) || lm_builtin_var(k->s + a + 1, e - a - 2) ||
                  (e - a == 3 && s[a + 1] == '-');
        emit(k, a, e, var);
        for (i = e; i < b && k->nt + 1 < k->cap; i++)
            emit(k, i, i + 1, 0);
        return i;
    }
    while (ca < cb && is_delim(s[ca]))
        ca++;
    while (cb > ca && (is_delim(s[cb - 1]) || s[cb - 1] == '.') &&
           !has_opener(s, ca, cb - 1, s[cb - 1]))
        cb--;
    int acc = 0;
    for (size_t j = ca; j < cb; j++)
        acc |= cls[s[j]];
    /* A word with a digit and no key/value separator is one value: "LOCAL(0)", "a,b,3". */
    if (dm && cb > ca &&
        (((acc & C_DIGIT) && !(acc & C_KV) && piece_var(s, ca, cb)) ||
         ((acc & (C_SLASH | C_KV)) && lm_builtin_var(k->s + ca, cb - ca)))) {
        for (; i < b && k->nt + 1 < k->cap; i = i == ca ? cb : i + 1)
            emit(k, i, i == ca ? cb : i + 1, i == ca);
        return i;
    }
    while (i < b && k->nt + 1 < k->cap) {
        const unsigned char *q;
        size_t j = i;
        if (s[i] == '"' && i + 1 < b && (q = memchr(s + i + 1, '"', b - i - 1)) != NULL &&
            memchr(s + i, ' ', (size_t)(q - s) - i)) { /* "quoted text with spaces" */
            j = (size_t)(q - s) + 1;
            emit(k, i, j, dm && piece_var(s, i, j));
        } else if (is_delim(s[i]) || (s[i] == '.' && i + 1 == b && i > a)) {
            emit(k, i, i + 1, 0);
            j = dm && k->nt + 1 < k->cap ? after_delim(k, i + 1, cb, b, at_end) : i + 1;
        } else {
            while (j < b && !is_delim(s[j]) && !(s[j] == '.' && j + 1 == b && j > a))
                j++;
            emit(k, i, j, dm && piece_var(s, i, j));
        }
        i = j;
    }
    return i;
}

/* A token that overlaps a user-mask match is a variable; a match spanning several tokens
 * makes them all variables, and merge_vars then joins them into one. */
static void apply_masks(const struct lm_masks *mk, struct tk *k, size_t n)
{
    struct range r[MAX_RANGES];
    int nr = find_ranges(mk, k->s, n, r), ri = 0;
    for (size_t i = 0; i < k->nt && ri < nr; i++) {
        struct lm_tok *t = &k->t[i];
        while (ri < nr && r[ri].b <= t->off)
            ri++;
        if (ri < nr && t->len && r[ri].a < t->off + t->len && !t->var) {
            t->var = 1;
            t->h = 0;
        }
    }
}

/* Runs of adjacent variables become one variable spanning them (whitespace included):
 * lists of values ("an14 an15 an16"), dates ("Mon Jun 20 04:02:54 2005") and values with
 * inner spaces then give the same token count whatever their length. */
static size_t merge_vars(struct tk *k)
{
    size_t o = 0;
    for (size_t i = 0; i < k->nt; i++) {
        if (o && k->t[i].var && k->t[o - 1].var) {
            k->t[o - 1].len = k->t[i].off + k->t[i].len - k->t[o - 1].off;
            continue;
        }
        k->t[o++] = k->t[i];
    }
    return o;
}

int lm_tokenize(const struct lm_masks *mk, int default_masks, const char *s, size_t n,
                struct lm_tok *toks, size_t cap)
{
    struct tk k = {s, toks, cap, 0, 0};
    size_t i = 0;
    if (cap < 2)
        return GD_EINVAL;
    while (i < n) {
        if (k.nt + 1 >= cap) { /* cap reached: the rest is one variable token */
            while (i < n && is_ws((unsigned char)s[i]))
                i++, k.sp = 1;
            if (i < n)
                emit(&k, i, n, 1);
            break;
        }
        if (is_ws((unsigned char)s[i])) {
            k.sp = 1;
            i++;
            continue;
        }
        size_t j = i;
        while (j < n && !is_ws((unsigned char)s[j])) {
            if (s[j] == '"') { /* a double-quoted string is part of the word, spaces and all */
                const char *q = memchr(s + j + 1, '"', n - j - 1);
                if (q)
                    j = (size_t)(q - s);
            }
            j++;
        }
        i = split_word(&k, i, j, default_masks, 1);
    }
    if (mk && mk->re)
        apply_masks(mk, &k, n);
    if (default_masks)
        lm_token_classes(s, k.t, k.nt);
    return (int)merge_vars(&k);
}
