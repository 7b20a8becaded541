/* Validators run on the candidates the PII pattern finds (pii.c): checksums, ranges and the
 * entropy of generic tokens. Each takes the candidate's bytes and returns 1 (keep) or 0. */
#include "gateway/pii.h"

#include <arpa/inet.h>
#include <math.h>
#include <string.h>

static int is_digit(char c)
{
    return c >= '0' && c <= '9';
}

int gd_pii_luhn_ok(const char *s, size_t n)
{
    int sum = 0, dbl = 0, digits = 0;
    for (size_t i = n; i-- > 0;) {
        char c = s[i];
        if (c == ' ' || c == '-')
            continue;
        if (!is_digit(c))
            return 0;
        int d = c - '0';
        if (dbl && (d *= 2) > 9)
            d -= 9;
        sum += d;
        dbl = !dbl;
        digits++;
    }
    return digits > 0 && sum % 10 == 0;
}

/* 13-19 digits, separators all the same kind (or none), a known card IIN first digit
 * (2 Mastercard 2-series, 3 Amex/Diners/JCB, 4 Visa, 5 Mastercard, 6 Discover/UnionPay). */
int gd_pii_card_ok(const char *s, size_t n)
{
    int digits = 0;
    char sep = 0;
    for (size_t i = 0; i < n; i++) {
        if (is_digit(s[i])) {
            digits++;
        } else if (s[i] == ' ' || s[i] == '-') {
            if (sep && sep != s[i])
                return 0;
            sep = s[i];
        } else {
            return 0;
        }
    }
    if (digits < 13 || digits > 19 || s[0] < '2' || s[0] > '6')
        return 0;
    return gd_pii_luhn_ok(s, n);
}

/* ISO 13616: country letters, two check digits, 11-30 alphanumerics; moving the first four
 * characters to the end and reading letters as 10..35 gives a number = 1 mod 97. */
int gd_pii_iban_ok(const char *s, size_t n)
{
    char b[40];
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == ' ')
            continue;
        if (k == sizeof b)
            return 0;
        b[k++] = s[i];
    }
    if (k < 15 || k > 34)
        return 0;
    unsigned rem = 0;
    for (size_t i = 0; i < k; i++) {
        char c = b[(i + 4) % k];
        if (is_digit(c))
            rem = (rem * 10 + (unsigned)(c - '0')) % 97;
        else if (c >= 'A' && c <= 'Z')
            rem = (rem * 100 + (unsigned)(c - 'A' + 10)) % 97;
        else
            return 0;
    }
    return rem == 1;
}

static int num(const char *s, size_t n)
{
    int v = 0;
    for (size_t i = 0; i < n; i++)
        v = v * 10 + (s[i] - '0');
    return v;
}

/* AAA-GG-SSSS: area 000, 666 and 900-999, group 00 and serial 0000 are never issued. */
int gd_pii_ssn_ok(const char *s, size_t n)
{
    if (n != 11 || s[3] != s[6] || (s[3] != '-' && s[3] != ' '))
        return 0;
    for (size_t i = 0; i < n; i++)
        if (i != 3 && i != 6 && !is_digit(s[i]))
            return 0;
    int area = num(s, 3), group = num(s + 4, 2), serial = num(s + 7, 4);
    return area != 0 && area != 666 && area < 900 && group != 0 && serial != 0;
}

/* Dotted quad, each octet 0-255 without leading zeros. */
int gd_pii_ipv4_ok(const char *s, size_t n)
{
    int parts = 0;
    size_t i = 0;
    while (i < n) {
        size_t st = i;
        int v = 0;
        while (i < n && is_digit(s[i]) && i - st < 4)
            v = v * 10 + (s[i++] - '0');
        size_t len = i - st;
        if (len == 0 || len > 3 || v > 255 || (len > 1 && s[st] == '0'))
            return 0;
        parts++;
        if (i < n) {
            if (s[i] != '.' || parts == 4)
                return 0;
            i++;
            if (i == n)
                return 0;
        }
    }
    return parts == 4;
}

/* inet_pton's syntax, plus: at least two groups with a digit that is not 0 or an explicit
 * "::" (so "a:b" in prose or "12:30:45" never pass; inet_pton refuses those anyway). */
int gd_pii_ipv6_ok(const char *s, size_t n)
{
    char b[64];
    unsigned char out[16];
    if (n < 2 || n >= sizeof b)
        return 0;
    memcpy(b, s, n);
    b[n] = 0;
    if (inet_pton(AF_INET6, b, out) != 1)
        return 0;
    /* "::" alone or a run of zeros is not an address anyone needs hidden */
    for (int i = 0; i < 16; i++)
        if (out[i])
            return 1;
    return 0;
}

static int b64url_val(char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (is_digit(c))
        return c - '0' + 52;
    if (c == '-')
        return 62;
    if (c == '_')
        return 63;
    return -1;
}

/* Three base64url parts; the first decodes to a JSON object naming "alg". Only the first
 * 512 bytes of the header are decoded (headers are short). */
int gd_pii_jwt_ok(const char *s, size_t n)
{
    const char *dot = memchr(s, '.', n);
    if (!dot)
        return 0;
    size_t hn = (size_t)(dot - s);
    char hdr[512];
    size_t k = 0;
    unsigned acc = 0;
    int bits = 0;
    for (size_t i = 0; i < hn && k < sizeof hdr - 1; i++) {
        int v = b64url_val(s[i]);
        if (v < 0)
            return 0;
        acc = (acc << 6) | (unsigned)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            hdr[k++] = (char)((acc >> bits) & 0xff);
        }
    }
    hdr[k] = 0;
    size_t st = 0;
    while (st < k && (hdr[st] == ' ' || hdr[st] == '\t' || hdr[st] == '\r' || hdr[st] == '\n'))
        st++;
    return st < k && hdr[st] == '{' && strstr(hdr, "\"alg\"") != NULL;
}

/* 8-15 digits (E.164's maximum is 15); a national number (no '+') needs 9-12 digits and a
 * leading 0 or a US-style NXX area code, and one kind of separator. */
int gd_pii_phone_ok(const char *s, size_t n)
{
    int digits = 0;
    for (size_t i = 0; i < n; i++)
        digits += is_digit(s[i]);
    if (s[0] == '+')
        return digits >= 8 && digits <= 15;
    if (digits < 10 || digits > 12)
        return 0;
    /* one separator kind ("01.12.2023 03:09" mixes two), parentheses aside */
    char sep = 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (is_digit(c) || c == '(' || c == ')' || (c == ' ' && i && s[i - 1] == ')'))
            continue;
        if (sep && c != sep)
            return 0;
        sep = c;
    }
    const char *d = s;
    while (!is_digit(*d))
        d++;
    if (*d == '0')
        return 1;
    /* NANP: area code and exchange start with 2-9 */
    if (digits != 10 || *d < '2')
        return 0;
    const char *e = d + 3;
    while (!is_digit(*e))
        e++;
    return *e >= '2';
}

double gd_pii_entropy(const char *s, size_t n)
{
    unsigned cnt[256] = {0};
    for (size_t i = 0; i < n; i++)
        cnt[(unsigned char)s[i]]++;
    double h = 0;
    for (int i = 0; i < 256; i++) {
        if (!cnt[i])
            continue;
        double p = (double)cnt[i] / (double)n;
        h -= p * log2(p);
    }
    return h;
}

/* Generic token: 20..GD_PII_SECRET_MAX characters with upper case, lower case and digits
 * (at least one of each), and entropy >= GD_PII_SECRET_MIN_ENTROPY bits per character. Hex
 * strings (git SHAs, digests) and UUIDs lack upper case; words and identifiers lack digits
 * or entropy. */
int gd_pii_secret_ok(const char *s, size_t n)
{
    if (n < 20 || n > GD_PII_SECRET_MAX)
        return 0;
    int up = 0, lo = 0, dg = 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        up += c >= 'A' && c <= 'Z';
        lo += c >= 'a' && c <= 'z';
        dg += is_digit(c);
    }
    if (!up || !lo || !dg)
        return 0;
    return gd_pii_entropy(s, n) >= GD_PII_SECRET_MIN_ENTROPY;
}
