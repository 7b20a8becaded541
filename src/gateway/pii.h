/* PII and secrets detection: one pass of one PCRE2-JIT pattern (an alternation of named
 * groups, compiled once per process) over a text, with a validator run on each candidate
 * (Luhn, IBAN mod-97, SSN ranges, IPv4 octets, IPv6 syntax, JWT header, Shannon entropy).
 * A candidate that fails its validator is skipped as a whole (a 16-digit number failing Luhn
 * is not reported as anything else). Matches never overlap and come in text order.
 * See docs/governance.md ("PII and secrets") for every category's rule. */
#ifndef GD_GATEWAY_PII_H
#define GD_GATEWAY_PII_H

#include <stddef.h>
#include <stdint.h>

enum gd_pii_cat {
    GD_PII_EMAIL,
    GD_PII_PHONE,
    GD_PII_CREDIT_CARD,
    GD_PII_IBAN,
    GD_PII_SSN,
    GD_PII_IPV4,
    GD_PII_IPV6,
    GD_PII_AWS_KEY,
    GD_PII_GITHUB_TOKEN,
    GD_PII_GITLAB_TOKEN,
    GD_PII_SLACK_TOKEN,
    GD_PII_GOOGLE_API_KEY,
    GD_PII_STRIPE_KEY,
    GD_PII_OPENAI_KEY,
    GD_PII_ANTHROPIC_KEY,
    GD_PII_PRIVATE_KEY,
    GD_PII_JWT,
    GD_PII_SECRET, /* generic high-entropy token */
    GD_PII_NCAT
};

#define GD_PII_ALL ((UINT32_C(1) << GD_PII_NCAT) - 1)
/* Largest text one scan accepts (bigger: GD_ELIMIT). */
#define GD_PII_MAX_TEXT (8u << 20)
/* Generic tokens longer than this are not reported (base64 blobs such as images). */
#define GD_PII_SECRET_MAX 256
/* Shannon entropy (bits per character) a generic token needs; see docs/governance.md. */
#define GD_PII_SECRET_MIN_ENTROPY 3.5

struct gd_pii_match {
    size_t off, len;
    enum gd_pii_cat cat;
};

/* Lower-case name ("email", "credit_card", ...) or NULL for an out-of-range value. */
const char *gd_pii_cat_name(enum gd_pii_cat c);
/* Parses a name of gd_pii_cat_name; returns 0 or GD_EINVAL. */
int gd_pii_cat_parse(const char *s, size_t n, enum gd_pii_cat *out);

/* Compiles the pattern once per process (thread-safe, idempotent). Returns 0 or GD_ENOMEM /
 * GD_EINVAL (PCRE2 refused the pattern: a bug). gd_pii_scanner_new calls it. */
int gd_pii_init(void);

/* A scanner holds per-thread match state; use one per thread. Owned by the caller:
 * gd_pii_scanner_free (NULL is a no-op). Returns NULL when out of memory. */
struct gd_pii_scanner;
struct gd_pii_scanner *gd_pii_scanner_new(void);
void gd_pii_scanner_free(struct gd_pii_scanner *s);

/* Scans text[0..n) (any bytes; UTF-8 is treated as bytes) for the categories whose bit
 * (1 << cat) is set in cats, storing up to max matches in out and their count in *nout.
 * Returns 0, GD_ELIMIT when n > GD_PII_MAX_TEXT or more than max matches were found (the first
 * max are stored), GD_EAGAIN when PCRE2's match limit stopped the scan (matches so far are
 * stored), or GD_EINVAL. Never allocates. */
int gd_pii_scan(struct gd_pii_scanner *s, const char *text, size_t n, uint32_t cats,
                struct gd_pii_match *out, size_t max, size_t *nout);

/* Validators, exposed for the unit tests. Each takes the candidate's bytes. */
int gd_pii_luhn_ok(const char *s, size_t n); /* digits, ' ' and '-' allowed */
int gd_pii_iban_ok(const char *s, size_t n); /* spaces allowed */
int gd_pii_ssn_ok(const char *s, size_t n);  /* AAA-GG-SSSS or AAA GG SSSS */
int gd_pii_ipv4_ok(const char *s, size_t n);
int gd_pii_ipv6_ok(const char *s, size_t n);
int gd_pii_jwt_ok(const char *s, size_t n);
int gd_pii_phone_ok(const char *s, size_t n);
int gd_pii_card_ok(const char *s, size_t n); /* Luhn, 13-19 digits, one separator kind, IIN */
int gd_pii_secret_ok(const char *s, size_t n);
double gd_pii_entropy(const char *s, size_t n);

#endif
