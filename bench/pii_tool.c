/* gd_pii_tool: the PII detector outside girder, for the corpus test and bench/pii.sh.
 *   gd_pii_tool scan         one text per stdin line (\n inside a text written as \\n);
 *                            prints, per line, the categories found ("-" for none), space
 *                            separated, in text order
 *   gd_pii_tool bench KIB PII SECONDS
 *                            scans a chat-completions JSON body of KIB KiB (with PII values
 *                            spread through it when PII is 1) repeatedly; prints MB/s */
#include "gateway/pii.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAXM 4096

static int scan_lines(struct gd_pii_scanner *s)
{
    static char line[1 << 20];
    static struct gd_pii_match m[MAXM];
    while (fgets(line, sizeof line, stdin)) {
        size_t n = strlen(line), k = 0;
        if (n && line[n - 1] == '\n')
            line[--n] = 0;
        for (size_t i = 0; i < n; i++) { /* unescape \\n */
            if (line[i] == '\\' && i + 1 < n && line[i + 1] == 'n') {
                line[k++] = '\n';
                i++;
            } else {
                line[k++] = line[i];
            }
        }
        size_t nm = 0;
        int rc = gd_pii_scan(s, line, k, GD_PII_ALL, m, MAXM, &nm);
        if (rc != 0) {
            fprintf(stderr, "scan failed: %d\n", rc);
            return 1;
        }
        if (nm == 0)
            fputs("-", stdout);
        for (size_t i = 0; i < nm; i++)
            printf("%s%s", i ? " " : "", gd_pii_cat_name(m[i].cat));
        putchar('\n');
    }
    return 0;
}

static const char *const filler[] = {
    "Please summarise the following meeting notes and list the action items. ",
    "The release 2.14.3 shipped on 2024-03-18 at 14:05:09 with build 8f3c2a91d4e7b6c5. ",
    "Version v1.2.3 fixed request 550e8400-e29b-41d4-a716-446655440000 in 12 ms. ",
    "We compared throughput of 1048576 requests over 37 runs, median 412.5 per second. ",
};
static const char *const pii[] = {
    "Contact jane.doe@example.com or +44 20 7946 0958. ",
    "Card 4111 1111 1111 1111, IBAN DE89 3704 0044 0532 0130 00, SSN 123-45-6789. ",
    "Server 192.168.10.4 and 2001:db8::8a2e:370:7334 use key AKIAIOSFODNN7EXAMPLE. ",
};

static char *make_body(size_t kib, int with_pii, size_t *len)
{
    size_t cap = kib * 1024;
    char *b = malloc(cap + 1);
    if (!b)
        return NULL;
    size_t k = (size_t)snprintf(b, cap,
                                "{\"model\":\"chat\",\"messages\":[{\"role\":\"user\","
                                "\"content\":\"");
    const char *tail = "\"}]}";
    for (unsigned i = 0; k + strlen(tail) < cap; i++) {
        const char *p = (with_pii && i % 4 == 3) ? pii[(i / 4) % 3] : filler[i % 4];
        size_t pn = strlen(p);
        if (k + pn + strlen(tail) > cap)
            pn = cap - k - strlen(tail);
        memcpy(b + k, p, pn);
        k += pn;
    }
    memcpy(b + k, tail, strlen(tail));
    k += strlen(tail);
    b[k] = 0;
    *len = k;
    return b;
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static int bench(struct gd_pii_scanner *s, size_t kib, int with_pii, double secs)
{
    static struct gd_pii_match m[MAXM];
    size_t n = 0, nm = 0;
    char *b = make_body(kib, with_pii, &n);
    if (!b)
        return 1;
    double t0 = now(), t;
    size_t bytes = 0, iters = 0;
    do {
        if (gd_pii_scan(s, b, n, GD_PII_ALL, m, MAXM, &nm) != 0) {
            fprintf(stderr, "scan failed\n");
            free(b);
            return 1;
        }
        bytes += n;
        iters++;
    } while ((t = now() - t0) < secs);
    printf("size_kib=%zu pii=%d matches=%zu iters=%zu mb_s=%.1f us_per_body=%.2f\n", kib, with_pii,
           nm, iters, bytes / t / 1e6, t / iters * 1e6);
    free(b);
    return 0;
}

int main(int argc, char **argv)
{
    struct gd_pii_scanner *s = gd_pii_scanner_new();
    if (!s) {
        fprintf(stderr, "gd_pii_scanner_new failed\n");
        return 1;
    }
    int rc = 2;
    if (argc == 2 && strcmp(argv[1], "scan") == 0)
        rc = scan_lines(s);
    else if (argc == 5 && strcmp(argv[1], "bench") == 0)
        rc = bench(s, strtoul(argv[2], NULL, 10), atoi(argv[3]), atof(argv[4]));
    else
        fprintf(stderr, "usage: gd_pii_tool scan | bench KIB PII SECONDS\n");
    gd_pii_scanner_free(s);
    return rc;
}
