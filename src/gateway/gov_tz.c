/* Time zones (see gov_tz.h). TZif (RFC 8536): a v1 header and 32-bit data, then for v2+
 * a second header and the 64-bit data used here. Only the transition times, their type
 * indices and the types' UT offsets are needed. */
#include "gateway/gov_tz.h"
#include "core/alloc.h"
#include "core/file.h"
#include "girder/error.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint32_t be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static int64_t be64(const unsigned char *p)
{
    return (int64_t)((uint64_t)be32(p) << 32 | be32(p + 4));
}

/* "+HH:MM" / "-HH:MM" / "+HH" -> seconds east of UTC; 0 or -1. */
static int fixed_offset(const char *s, int32_t *out)
{
    if ((s[0] != '+' && s[0] != '-') || s[1] < '0' || s[1] > '9' || s[2] < '0' || s[2] > '9')
        return -1;
    int h = (s[1] - '0') * 10 + (s[2] - '0'), m = 0;
    if (s[3] == ':' && s[4] >= '0' && s[4] <= '5' && s[5] >= '0' && s[5] <= '9' && !s[6])
        m = (s[4] - '0') * 10 + (s[5] - '0');
    else if (s[3])
        return -1;
    if (h > 14)
        return -1;
    *out = (int32_t)((h * 3600 + m * 60) * (s[0] == '-' ? -1 : 1));
    return 0;
}

static int valid_name(const char *s)
{
    if (!*s || *s == '/' || strlen(s) >= 64 || strstr(s, ".."))
        return 0;
    for (; *s; s++)
        if (!(*s == '/' || *s == '_' || *s == '-' || *s == '+' || (*s >= '0' && *s <= '9') ||
              (*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z')))
            return 0;
    return 1;
}

/* Parses the 64-bit block of a TZif file. */
static int parse_tzif(const unsigned char *p, size_t n, struct gd_gov_tz *tz)
{
    if (n < 44 || memcmp(p, "TZif", 4) != 0 || p[4] < '2')
        return GD_EINVAL;
    /* skip the v1 block: counts isutc, isstd, leap, time, type, char */
    uint32_t c[6];
    for (int i = 0; i < 6; i++)
        c[i] = be32(p + 20 + 4 * i);
    uint64_t v1 = (uint64_t)c[3] * 5 + (uint64_t)c[4] * 6 + c[5] + (uint64_t)c[2] * 8 + c[1] + c[0];
    if (44 + v1 + 44 > n)
        return GD_EINVAL;
    p += 44 + v1;
    n -= 44 + v1;
    if (memcmp(p, "TZif", 4) != 0)
        return GD_EINVAL;
    for (int i = 0; i < 6; i++)
        c[i] = be32(p + 20 + 4 * i);
    uint32_t nt = c[3], ty = c[4];
    if (nt > GD_GOV_TZ_MAX_TRANSITIONS || ty == 0 || ty > 256 ||
        44 + (uint64_t)nt * 9 + (uint64_t)ty * 6 > n)
        return GD_EINVAL;
    const unsigned char *times = p + 44, *idx = times + (size_t)nt * 8, *types = idx + nt;
    tz->at = gd_calloc(nt ? nt : 1, sizeof *tz->at);
    tz->off = gd_calloc(nt ? nt : 1, sizeof *tz->off);
    if (!tz->at || !tz->off)
        return GD_ENOMEM;
    for (uint32_t i = 0; i < nt; i++) {
        if (idx[i] >= ty)
            return GD_EINVAL;
        tz->at[i] = be64(times + 8 * i);
        tz->off[i] = (int32_t)be32(types + 6 * idx[i]);
        if ((i && tz->at[i] <= tz->at[i - 1]) || tz->off[i] < -86400 || tz->off[i] > 86400)
            return GD_EINVAL;
    }
    tz->n = nt;
    tz->off_base = (int32_t)be32(types); /* type 0: the zone before its first transition */
    return tz->off_base < -86400 || tz->off_base > 86400 ? GD_EINVAL : 0;
}

int gd_gov_tz_load(const char *name, struct gd_gov_tz *tz, char *err, size_t errlen)
{
    memset(tz, 0, sizeof *tz);
    if (strcmp(name, "UTC") == 0 || strcmp(name, "Etc/UTC") == 0 ||
        fixed_offset(name, &tz->off_base) == 0) {
        snprintf(tz->name, sizeof tz->name, "%s", name);
        return 0;
    }
    if (!valid_name(name)) {
        snprintf(err, errlen, "expected UTC, +HH:MM or an IANA time zone name");
        return GD_EINVAL;
    }
    const char *dir = getenv("TZDIR");
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir && *dir ? dir : "/usr/share/zoneinfo", name);
    char *data = NULL;
    size_t n = 0;
    char why[128];
    int rc = gd_file_read(path, 1u << 20, &data, &n, why, sizeof why);
    if (rc != 0) {
        snprintf(err, errlen, "unknown time zone (%s: %s)", path, why);
        return GD_ENOENT;
    }
    rc = parse_tzif((const unsigned char *)data, n, tz);
    gd_free(data);
    if (rc != 0) {
        gd_gov_tz_free(tz);
        snprintf(err, errlen, "%s is not a TZif v2+ file", path);
        return rc;
    }
    snprintf(tz->name, sizeof tz->name, "%s", name);
    return 0;
}

void gd_gov_tz_free(struct gd_gov_tz *tz)
{
    gd_free(tz->at);
    gd_free(tz->off);
    tz->at = NULL;
    tz->off = NULL;
    tz->n = 0;
}

int32_t gd_gov_tz_offset(const struct gd_gov_tz *tz, int64_t t)
{
    if (tz->n == 0 || t < tz->at[0])
        return tz->off_base;
    size_t lo = 0, hi = tz->n; /* last transition <= t */
    while (hi - lo > 1) {
        size_t mid = lo + (hi - lo) / 2;
        if (tz->at[mid] <= t)
            lo = mid;
        else
            hi = mid;
    }
    return tz->off[lo];
}
