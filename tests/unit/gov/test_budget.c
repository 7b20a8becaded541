#include "gateway/gov_budget.h"
#include "girder/error.h"

#include <criterion/criterion.h>
#include <stdlib.h>
#include <time.h>

static int64_t utc(int y, int mo, int d, int h, int mi)
{
    return gd_gov_days_from_civil(y, (unsigned)mo, (unsigned)d) * 86400 + h * 3600 + mi * 60;
}

Test(gov_budget, civil_round_trip)
{
    for (int64_t z = -800000; z < 800000; z += 997) {
        int64_t y;
        unsigned m, d;
        gd_gov_civil_from_days(z, &y, &m, &d);
        cr_assert_eq(gd_gov_days_from_civil(y, m, d), z);
    }
    cr_assert_eq(gd_gov_days_from_civil(1970, 1, 1), 0);
    cr_assert_eq(gd_gov_days_from_civil(2000, 3, 1), 11017);
}

Test(gov_budget, utc_periods)
{
    struct gd_gov_tz tz;
    char err[128];
    cr_assert_eq(gd_gov_tz_load("UTC", &tz, err, sizeof err), 0);
    int64_t s, e, now = utc(2024, 2, 29, 13, 5); /* a Thursday in a leap February */
    gd_gov_period_bounds(GD_GOV_PERIOD_DAILY, &tz, now, &s, &e);
    cr_assert_eq(s, utc(2024, 2, 29, 0, 0));
    cr_assert_eq(e, utc(2024, 3, 1, 0, 0));
    gd_gov_period_bounds(GD_GOV_PERIOD_WEEKLY, &tz, now, &s, &e);
    cr_assert_eq(s, utc(2024, 2, 26, 0, 0)); /* Monday */
    cr_assert_eq(e, utc(2024, 3, 4, 0, 0));
    gd_gov_period_bounds(GD_GOV_PERIOD_MONTHLY, &tz, now, &s, &e);
    cr_assert_eq(s, utc(2024, 2, 1, 0, 0));
    cr_assert_eq(e, utc(2024, 3, 1, 0, 0));
    gd_gov_period_bounds(GD_GOV_PERIOD_MONTHLY, &tz, utc(2024, 12, 31, 23, 59), &s, &e);
    cr_assert_eq(e, utc(2025, 1, 1, 0, 0));
    gd_gov_period_bounds(GD_GOV_PERIOD_TOTAL, &tz, now, &s, &e);
    cr_assert_eq(e, INT64_MAX);
    gd_gov_tz_free(&tz);
}

Test(gov_budget, fixed_offset_and_bad_names)
{
    struct gd_gov_tz tz;
    char err[128];
    cr_assert_eq(gd_gov_tz_load("+05:30", &tz, err, sizeof err), 0);
    cr_assert_eq(gd_gov_tz_offset(&tz, 0), 5 * 3600 + 1800);
    int64_t s, e;
    /* 2024-03-10 20:00 UTC is already 01:30 on the 11th in +05:30 */
    gd_gov_period_bounds(GD_GOV_PERIOD_DAILY, &tz, utc(2024, 3, 10, 20, 0), &s, &e);
    cr_assert_eq(s, utc(2024, 3, 10, 18, 30));
    cr_assert_eq(gd_gov_tz_load("-08:00", &tz, err, sizeof err), 0);
    cr_assert_eq(gd_gov_tz_offset(&tz, 0), -8 * 3600);
    cr_assert_eq(gd_gov_tz_load("../etc/passwd", &tz, err, sizeof err), GD_EINVAL);
    cr_assert_eq(gd_gov_tz_load("/etc/passwd", &tz, err, sizeof err), GD_EINVAL);
    cr_assert_eq(gd_gov_tz_load("+25:00", &tz, err, sizeof err), GD_EINVAL);
    cr_assert_eq(gd_gov_tz_load("No/Such_Zone", &tz, err, sizeof err), GD_ENOENT);
}

/* The zone's offsets against glibc's reading of the same files (localtime_r with TZ set:
 * fine in a single-threaded test). */
static void check_against_libc(const char *name)
{
    struct gd_gov_tz tz;
    char err[128];
    cr_assert_eq(gd_gov_tz_load(name, &tz, err, sizeof err), 0, "%s: %s", name, err);
    setenv("TZ", name, 1);
    tzset();
    for (int64_t t = utc(1990, 1, 1, 0, 0); t < utc(2036, 1, 1, 0, 0); t += 86400 * 3 + 3607) {
        time_t tt = (time_t)t;
        struct tm tm;
        localtime_r(&tt, &tm);
        cr_assert_eq(gd_gov_tz_offset(&tz, t), (int32_t)tm.tm_gmtoff, "%s at %lld", name,
                     (long long)t);
    }
    gd_gov_tz_free(&tz);
}

Test(gov_budget, iana_zones_match_libc)
{
    check_against_libc("Europe/Berlin");
    check_against_libc("America/New_York");
    check_against_libc("Australia/Lord_Howe"); /* 30-minute DST */
    check_against_libc("Asia/Kolkata");
}

Test(gov_budget, periods_in_a_dst_zone)
{
    struct gd_gov_tz tz;
    char err[128];
    cr_assert_eq(gd_gov_tz_load("Europe/Berlin", &tz, err, sizeof err), 0);
    int64_t s, e;
    /* 2024-03-31: clocks go 02:00 -> 03:00 CET -> CEST; that day is 23 hours long */
    gd_gov_period_bounds(GD_GOV_PERIOD_DAILY, &tz, utc(2024, 3, 31, 12, 0), &s, &e);
    cr_assert_eq(s, utc(2024, 3, 30, 23, 0)); /* 00:00 CET */
    cr_assert_eq(e, utc(2024, 3, 31, 22, 0)); /* 00:00 CEST */
    /* 23:30 UTC on Jan 31 is already February 1 in Berlin */
    gd_gov_period_bounds(GD_GOV_PERIOD_MONTHLY, &tz, utc(2024, 1, 31, 23, 30), &s, &e);
    cr_assert_eq(s, utc(2024, 1, 31, 23, 0));
    cr_assert_eq(e, utc(2024, 2, 29, 23, 0));
    /* weekly: Monday 2024-10-28 00:00 CET, after the October change */
    gd_gov_period_bounds(GD_GOV_PERIOD_WEEKLY, &tz, utc(2024, 10, 30, 10, 0), &s, &e);
    cr_assert_eq(s, utc(2024, 10, 27, 23, 0));
    cr_assert_eq(e, utc(2024, 11, 3, 23, 0));
    gd_gov_tz_free(&tz);
}
