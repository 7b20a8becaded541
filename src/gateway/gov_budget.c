/* Budget periods (see gov_budget.h). The local calendar date of now is found with the
 * zone's offset at now; the period's first local midnight is turned back into UTC with the
 * offset in force at that instant (two refinement steps settle a DST change near it). */
#include "gateway/gov_budget.h"

/* Howard Hinnant's days_from_civil / civil_from_days (days since 1970-01-01). */
int64_t gd_gov_days_from_civil(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    unsigned yoe = (unsigned)(y - era * 400);
    unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

void gd_gov_civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    unsigned doe = (unsigned)(z - era * 146097);
    unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    unsigned mp = (5 * doy + 2) / 153;
    *d = doy - (153 * mp + 2) / 5 + 1;
    *m = mp < 10 ? mp + 3 : mp - 9;
    *y = (int64_t)yoe + era * 400 + (*m <= 2);
}

static int64_t floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return q * b > a ? q - 1 : q;
}

/* UTC instant of local midnight starting local day `day`. */
static int64_t local_midnight(const struct gd_gov_tz *tz, int64_t day)
{
    int64_t local = day * 86400;
    int64_t u = local - gd_gov_tz_offset(tz, local);
    u = local - gd_gov_tz_offset(tz, u);
    return local - gd_gov_tz_offset(tz, u);
}

void gd_gov_period_bounds(enum gd_gov_period p, const struct gd_gov_tz *tz, int64_t now,
                          int64_t *start, int64_t *end)
{
    if (p == GD_GOV_PERIOD_TOTAL) {
        *start = INT64_MIN;
        *end = INT64_MAX;
        return;
    }
    int64_t day = floor_div(now + gd_gov_tz_offset(tz, now), 86400), first, next;
    if (p == GD_GOV_PERIOD_DAILY) {
        first = day;
        next = day + 1;
    } else if (p == GD_GOV_PERIOD_WEEKLY) {
        int64_t wd = floor_div(day + 3, 7) * 7 - 3; /* 1970-01-01 was a Thursday */
        first = wd;
        next = wd + 7;
    } else {
        int64_t y;
        unsigned m, d;
        gd_gov_civil_from_days(day, &y, &m, &d);
        first = gd_gov_days_from_civil(y, m, 1);
        next = m == 12 ? gd_gov_days_from_civil(y + 1, 1, 1) : gd_gov_days_from_civil(y, m + 1, 1);
    }
    *start = local_midnight(tz, first);
    *end = local_midnight(tz, next);
}
