/* Budget periods: when a USD budget's spend resets. Calendar-aligned in the configured
 * time zone: a day starts at local midnight, a week on Monday at local midnight (ISO
 * 8601), a month on its first day at local midnight; "total" never resets.
 *
 * Pure and thread-safe (times are UTC seconds, passed in). */
#ifndef GD_GATEWAY_GOV_BUDGET_H
#define GD_GATEWAY_GOV_BUDGET_H

#include "gateway/gov_tz.h"

#include <stdint.h>

enum gd_gov_period {
    GD_GOV_PERIOD_TOTAL = 0,
    GD_GOV_PERIOD_DAILY,
    GD_GOV_PERIOD_WEEKLY,
    GD_GOV_PERIOD_MONTHLY
};

/* The period containing the UTC instant now: [*start, *end) in UTC seconds. TOTAL gives
 * [INT64_MIN, INT64_MAX). */
void gd_gov_period_bounds(enum gd_gov_period p, const struct gd_gov_tz *tz, int64_t now,
                          int64_t *start, int64_t *end);

/* Civil calendar helpers (proleptic Gregorian), exposed for tests. */
int64_t gd_gov_days_from_civil(int64_t y, unsigned m, unsigned d);
void gd_gov_civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d);

#endif
