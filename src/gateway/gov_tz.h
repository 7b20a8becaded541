/* Time zones for calendar-aligned budget periods: "UTC", a fixed offset ("+05:30",
 * "-08:00"), or an IANA name read from the system's TZif files (TZDIR, default
 * /usr/share/zoneinfo; Debian ships "fat" files with every transition to 2037, so instants
 * after the last transition keep its offset).
 *
 * A loaded zone is immutable and thread-safe to read; the file is read at config load only. */
#ifndef GD_GATEWAY_GOV_TZ_H
#define GD_GATEWAY_GOV_TZ_H

#include <stddef.h>
#include <stdint.h>

#define GD_GOV_TZ_MAX_TRANSITIONS 4096

struct gd_gov_tz {
    char name[64];
    size_t n;         /* transitions */
    int64_t *at;      /* [n] UTC seconds, increasing */
    int32_t *off;     /* [n] UTC offset in seconds from at[i] on */
    int32_t off_base; /* before the first transition (or always, when n == 0) */
};

/* Loads name into tz. Returns 0, or GD_EINVAL (bad name or not a valid TZif file) /
 * GD_ENOENT (no such zone) / GD_ENOMEM with a reason in err. */
int gd_gov_tz_load(const char *name, struct gd_gov_tz *tz, char *err, size_t errlen);
void gd_gov_tz_free(struct gd_gov_tz *tz);
/* Offset from UTC in seconds at the UTC instant t. */
int32_t gd_gov_tz_offset(const struct gd_gov_tz *tz, int64_t t);

#endif
