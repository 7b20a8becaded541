/* PII and secrets detection: the pattern, compiled once, and the scan loop.
 *
 * The detectors are the alternatives of one PCRE2 pattern, each a named group, tried in
 * table order at every position (so the most specific come first: key formats with a fixed
 * prefix before e-mail, numbers and the generic token). PCRE2's JIT turns the alternation into
 * machine code with a first-byte filter; one call finds the leftmost candidate, its validator
 * (pii_check.c) keeps or drops it, and the next call starts where it ended: one pass. */
#define PCRE2_CODE_UNIT_WIDTH 8
#include "gateway/pii.h"

#include "core/alloc.h"
#include "girder/error.h"

#include <pcre2.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

/* Boundaries: a detector does not start or end inside a longer run of its own alphabet. */
#define NB_ALNUM "(?<![A-Za-z0-9_])"
#define NA_ALNUM "(?![A-Za-z0-9_])"
#define START_GUARD "(?<![A-Za-z0-9])"

struct pii_det {
    enum gd_pii_cat cat;
    const char *name;
    const char *re;
};

/* In alternation order (which is also group order: group i+1 is dets[i]). dets[0] must be
 * the PEM block: it is the one detector outside the shared start guard (compile_once). */
static const struct pii_det dets[] = {
    {GD_PII_PRIVATE_KEY, "private_key",
     "-----BEGIN (?:[A-Z0-9]+ ){0,3}PRIVATE KEY-----[\\s\\S]{1,16384}?"
     "-----END (?:[A-Z0-9]+ ){0,3}PRIVATE KEY-----"},
    {GD_PII_ANTHROPIC_KEY, "anthropic_key",
     "(?<![A-Za-z0-9_-])sk-ant-[A-Za-z0-9_-]{20,200}(?![A-Za-z0-9_-])"},
    {GD_PII_OPENAI_KEY, "openai_key",
     "(?<![A-Za-z0-9_-])sk-(?:proj-|svcacct-|admin-)?[A-Za-z0-9_-]{20,200}(?![A-Za-z0-9_-])"},
    {GD_PII_STRIPE_KEY, "stripe_key", NB_ALNUM "[sr]k_live_[A-Za-z0-9]{16,200}" NA_ALNUM},
    {GD_PII_AWS_KEY, "aws_key", NB_ALNUM "(?:AKIA|ASIA)[A-Z0-9]{16}" NA_ALNUM},
    {GD_PII_GITHUB_TOKEN, "github_token",
     NB_ALNUM "(?:gh[pousr]_[A-Za-z0-9]{36,251}|github_pat_[A-Za-z0-9_]{22,251})" NA_ALNUM},
    {GD_PII_GITLAB_TOKEN, "gitlab_token", NB_ALNUM "glpat-[A-Za-z0-9_-]{20,200}(?![A-Za-z0-9_-])"},
    {GD_PII_SLACK_TOKEN, "slack_token", NB_ALNUM "xox[abpr]-[A-Za-z0-9-]{10,200}(?![A-Za-z0-9_-])"},
    {GD_PII_GOOGLE_API_KEY, "google_api_key", NB_ALNUM "AIza[0-9A-Za-z_-]{35}(?![A-Za-z0-9_-])"},
    {GD_PII_JWT, "jwt",
     "(?<![A-Za-z0-9_-])eyJ[A-Za-z0-9_-]{4,2048}\\.eyJ[A-Za-z0-9_-]{4,8192}\\."
     "[A-Za-z0-9_-]{0,2048}(?![A-Za-z0-9_-]|\\.[A-Za-z0-9_-])"},
    {GD_PII_EMAIL, "email",
     "(?<![A-Za-z0-9._%+-])[A-Za-z0-9][A-Za-z0-9._%+-]{0,63}+@"
     "(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\\.){1,8}[A-Za-z]{2,63}"
     "(?![A-Za-z0-9-])"},
    {GD_PII_IBAN, "iban",
     "(?<![A-Za-z0-9])[A-Z]{2}[0-9]{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,3})?"
     "(?![A-Za-z0-9])"},
    {GD_PII_CREDIT_CARD, "credit_card",
     "(?<![A-Za-z0-9.,+-])[0-9](?:[ -]?[0-9]){12,18}(?![A-Za-z0-9]|[.,-][0-9])"},
    {GD_PII_SSN, "ssn",
     "(?<![A-Za-z0-9.-])[0-9]{3}(?:-[0-9]{2}-| [0-9]{2} )[0-9]{4}(?![A-Za-z0-9]|[.-][0-9])"},
    {GD_PII_IPV6, "ipv6",
     "(?<![A-Za-z0-9:.])(?:[0-9A-Fa-f]{0,4}+:){2,7}"
     "(?:[0-9]{1,3}(?:\\.[0-9]{1,3}){3}|[0-9A-Fa-f]{1,4})?(?![A-Za-z0-9:])"},
    {GD_PII_IPV4, "ipv4",
     "(?<![A-Za-z0-9.])[0-9]{1,3}+(?:\\.[0-9]{1,3}+){3}(?![A-Za-z0-9]|\\.[0-9])"},
    {GD_PII_PHONE, "phone",
     "(?<![A-Za-z0-9+.-])(?:\\+[1-9](?:[ .()-]{0,2}[0-9]){7,14}"
     "|(?:\\([2-9][0-9]{2}\\) ?|[2-9][0-9]{2}[ .-])[2-9][0-9]{2}[ .-][0-9]{4}"
     "|\\(?0[0-9]{1,4}\\)?[ ./-][0-9]{2,4}(?:[ ./-]?[0-9]{2,4}){1,3})"
     "(?![A-Za-z0-9]|[.-][0-9])"},
    {GD_PII_SECRET, "secret",
     "(?<![A-Za-z0-9_+/-])[A-Za-z0-9_+/-]{20,}+={0,2}+(?![A-Za-z0-9_+/=-])"},
};
#define NDETS (sizeof dets / sizeof dets[0])

static const char *const cat_names[GD_PII_NCAT] = {
    [GD_PII_EMAIL] = "email",
    [GD_PII_PHONE] = "phone",
    [GD_PII_CREDIT_CARD] = "credit_card",
    [GD_PII_IBAN] = "iban",
    [GD_PII_SSN] = "ssn",
    [GD_PII_IPV4] = "ipv4",
    [GD_PII_IPV6] = "ipv6",
    [GD_PII_AWS_KEY] = "aws_key",
    [GD_PII_GITHUB_TOKEN] = "github_token",
    [GD_PII_GITLAB_TOKEN] = "gitlab_token",
    [GD_PII_SLACK_TOKEN] = "slack_token",
    [GD_PII_GOOGLE_API_KEY] = "google_api_key",
    [GD_PII_STRIPE_KEY] = "stripe_key",
    [GD_PII_OPENAI_KEY] = "openai_key",
    [GD_PII_ANTHROPIC_KEY] = "anthropic_key",
    [GD_PII_PRIVATE_KEY] = "private_key",
    [GD_PII_JWT] = "jwt",
    [GD_PII_SECRET] = "secret",
};

const char *gd_pii_cat_name(enum gd_pii_cat c)
{
    return (unsigned)c < GD_PII_NCAT ? cat_names[c] : NULL;
}

int gd_pii_cat_parse(const char *s, size_t n, enum gd_pii_cat *out)
{
    for (int i = 0; i < GD_PII_NCAT; i++) {
        if (strlen(cat_names[i]) == n && memcmp(cat_names[i], s, n) == 0) {
            *out = (enum gd_pii_cat)i;
            return 0;
        }
    }
    return GD_EINVAL;
}

static pthread_once_t once = PTHREAD_ONCE_INIT;
static pcre2_code *code;
static int init_rc;

static void compile_once(void)
{
    size_t len = 0;
    for (size_t i = 0; i < NDETS; i++)
        len += strlen(dets[i].re) + strlen(dets[i].name) + 8;
    len += sizeof START_GUARD + 8;
    char *pat = gd_malloc(len + 1);
    if (!pat) {
        init_rc = GD_ENOMEM;
        return;
    }
    /* dets[0] (PEM) may follow any byte; every other detector starts at a byte not preceded
     * by an ASCII letter or digit, checked once per position for all of them (without the
     * shared guard each alternative would be tried, and refused, inside every word) */
    size_t k =
        (size_t)snprintf(pat, len + 1, "(?<%s>%s)|" START_GUARD "(?:", dets[0].name, dets[0].re);
    for (size_t i = 1; i < NDETS; i++)
        k += (size_t)snprintf(pat + k, len + 1 - k, "%s(?<%s>%s)", i > 1 ? "|" : "", dets[i].name,
                              dets[i].re);
    k += (size_t)snprintf(pat + k, len + 1 - k, ")");
    int err;
    PCRE2_SIZE erroff;
    code = pcre2_compile((PCRE2_SPTR)pat, k, 0, &err, &erroff, NULL);
    gd_free(pat);
    if (!code) {
        init_rc = GD_EINVAL;
        return;
    }
    /* Without JIT (unsupported CPU) pcre2_match interprets: slower, same results. */
    (void)pcre2_jit_compile(code, PCRE2_JIT_COMPLETE);
    init_rc = 0;
}

int gd_pii_init(void)
{
    if (pthread_once(&once, compile_once) != 0)
        return GD_EINVAL;
    return init_rc;
}

struct gd_pii_scanner {
    pcre2_match_data *md;
    pcre2_match_context *mctx;
    pcre2_jit_stack *stack;
};

struct gd_pii_scanner *gd_pii_scanner_new(void)
{
    if (gd_pii_init() != 0)
        return NULL;
    struct gd_pii_scanner *s = gd_calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->md = pcre2_match_data_create_from_pattern(code, NULL);
    s->mctx = pcre2_match_context_create(NULL);
    s->stack = pcre2_jit_stack_create(32 * 1024, 512 * 1024, NULL);
    if (!s->md || !s->mctx || !s->stack) {
        gd_pii_scanner_free(s);
        return NULL;
    }
    pcre2_jit_stack_assign(s->mctx, NULL, s->stack);
    /* bounds backtracking per call; every alternative is linear, so this only trips on
     * adversarial input, which then fails the scan instead of stalling the loop */
    pcre2_set_match_limit(s->mctx, 1000000);
    return s;
}

void gd_pii_scanner_free(struct gd_pii_scanner *s)
{
    if (!s)
        return;
    pcre2_match_data_free(s->md);
    pcre2_match_context_free(s->mctx);
    pcre2_jit_stack_free(s->stack);
    gd_free(s);
}

static int has_digit_and_alpha(const char *s, size_t n)
{
    int d = 0, a = 0;
    for (size_t i = 0; i < n; i++) {
        d |= s[i] >= '0' && s[i] <= '9';
        a |= (s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z');
    }
    return d && a;
}

static int validate(enum gd_pii_cat c, const char *s, size_t n)
{
    switch (c) {
    case GD_PII_CREDIT_CARD:
        return gd_pii_card_ok(s, n);
    case GD_PII_IBAN:
        return gd_pii_iban_ok(s, n);
    case GD_PII_SSN:
        return gd_pii_ssn_ok(s, n);
    case GD_PII_IPV4:
        return gd_pii_ipv4_ok(s, n);
    case GD_PII_IPV6:
        return gd_pii_ipv6_ok(s, n);
    case GD_PII_JWT:
        return gd_pii_jwt_ok(s, n);
    case GD_PII_PHONE:
        return gd_pii_phone_ok(s, n);
    case GD_PII_SECRET:
        return gd_pii_secret_ok(s, n);
    case GD_PII_OPENAI_KEY:
    case GD_PII_ANTHROPIC_KEY:
        return has_digit_and_alpha(s, n);
    default:
        return 1;
    }
}

int gd_pii_scan(struct gd_pii_scanner *s, const char *text, size_t n, uint32_t cats,
                struct gd_pii_match *out, size_t max, size_t *nout)
{
    *nout = 0;
    if (!s || (!text && n))
        return GD_EINVAL;
    if (n > GD_PII_MAX_TEXT)
        return GD_ELIMIT;
    size_t pos = 0, cnt = 0;
    PCRE2_SIZE *ov = pcre2_get_ovector_pointer(s->md);
    while (pos < n) {
        int rc = pcre2_match(code, (PCRE2_SPTR)text, n, pos, 0, s->md, s->mctx);
        if (rc == PCRE2_ERROR_NOMATCH)
            break;
        if (rc < 0) {
            *nout = cnt;
            return rc == PCRE2_ERROR_MATCHLIMIT || rc == PCRE2_ERROR_JIT_STACKLIMIT ? GD_EAGAIN
                                                                                    : GD_EINVAL;
        }
        size_t st = ov[0], en = ov[1];
        size_t g = (size_t)rc - 1; /* highest set group: the alternative that matched */
        if (g == 0 || g > NDETS || ov[2 * g] == PCRE2_UNSET) {
            *nout = cnt;
            return GD_EINVAL;
        }
        enum gd_pii_cat c = dets[g - 1].cat;
        if ((cats >> c & 1) && validate(c, text + st, en - st)) {
            if (cnt == max) {
                *nout = cnt;
                return GD_ELIMIT;
            }
            out[cnt++] = (struct gd_pii_match){.off = st, .len = en - st, .cat = c};
        }
        pos = en > st ? en : st + 1;
    }
    *nout = cnt;
    return 0;
}
