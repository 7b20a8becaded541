/* `listen:` addresses: "HOST:PORT" with an IPv4 literal (or "localhost") or "[IPv6]:PORT".
 * Host names other than localhost are refused on purpose: a server that resolves DNS at
 * start-up binds to whatever the resolver says that day. */
#include "core/config.h"
#include "girder/error.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

static int reason(char *msg, size_t n, const char *why)
{
    if (msg && n)
        snprintf(msg, n, "%s", why);
    return GD_EINVAL;
}

static int parse_port(const char *s, uint16_t *out)
{
    if (!*s || strlen(s) > 5)
        return -1;
    unsigned v = 0;
    for (const char *p = s; *p; p++) {
        if (*p < '0' || *p > '9')
            return -1;
        v = v * 10 + (unsigned)(*p - '0');
    }
    if (v > 65535)
        return -1;
    *out = (uint16_t)v;
    return 0;
}

int gd_config_parse_listen(const char *s, struct gd_listen_addr *out, char *msg, size_t msg_len)
{
    char host[64];
    const char *port;
    int v6 = s[0] == '[';
    if (v6) {
        const char *end = strchr(s, ']');
        if (!end || end[1] != ':')
            return reason(msg, msg_len, "expected [IPv6]:PORT");
        if ((size_t)(end - s - 1) >= sizeof host)
            return reason(msg, msg_len, "IPv6 address too long");
        memcpy(host, s + 1, (size_t)(end - s - 1));
        host[end - s - 1] = '\0';
        port = end + 2;
    } else {
        const char *colon = strrchr(s, ':');
        if (!colon)
            return reason(msg, msg_len, "expected HOST:PORT");
        if (memchr(s, ':', (size_t)(colon - s)))
            return reason(msg, msg_len, "write IPv6 addresses in brackets: [::1]:8080");
        if ((size_t)(colon - s) >= sizeof host)
            return reason(msg, msg_len, "host too long");
        memcpy(host, s, (size_t)(colon - s));
        host[colon - s] = '\0';
        port = colon + 1;
    }
    struct gd_listen_addr a;
    memset(&a, 0, sizeof a);
    if (parse_port(port, &a.port))
        return reason(msg, msg_len, "port must be a number from 0 to 65535");
    if (v6) {
        struct sockaddr_in6 *sa = (struct sockaddr_in6 *)&a.ss;
        if (inet_pton(AF_INET6, host, &sa->sin6_addr) != 1)
            return reason(msg, msg_len, "not an IPv6 address");
        sa->sin6_family = AF_INET6;
        sa->sin6_port = htons(a.port);
        a.ss_len = sizeof *sa;
        a.family = AF_INET6;
    } else {
        struct sockaddr_in *sa = (struct sockaddr_in *)&a.ss;
        const char *h = strcmp(host, "localhost") == 0 ? "127.0.0.1" : host;
        if (inet_pton(AF_INET, h, &sa->sin_addr) != 1)
            return reason(msg, msg_len, "host must be an IPv4 address, localhost or [IPv6]");
        sa->sin_family = AF_INET;
        sa->sin_port = htons(a.port);
        a.ss_len = sizeof *sa;
        a.family = AF_INET;
    }
    char ip[INET6_ADDRSTRLEN];
    const void *addr = v6 ? (const void *)&((struct sockaddr_in6 *)&a.ss)->sin6_addr
                          : (const void *)&((struct sockaddr_in *)&a.ss)->sin_addr;
    inet_ntop(a.family, addr, ip, sizeof ip);
    snprintf(a.text, sizeof a.text, v6 ? "[%s]:%u" : "%s:%u", ip, (unsigned)a.port);
    *out = a;
    return 0;
}
