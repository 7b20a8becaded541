/* Level strings to OpenTelemetry SeverityNumber (logs data model: TRACE 1-4, DEBUG 5-8,
 * INFO 9-12, WARN 13-16, ERROR 17-20, FATAL 21-24). Covers log4j/logback, java.util.logging,
 * syslog, Android single letters, Windows CBS ("Info") and BGL ("SEVERE", "FAILURE"). */
#include "girder/logmine.h"

#include <string.h>
#include <strings.h>

struct sev {
    const char *name;
    int number;
};

static const struct sev sevs[] = {
    {"trace", 1},
    {"finest", 1},
    {"finer", 2},
    {"verbose", 1},
    {"v", 1},
    {"debug", 5},
    {"dbg", 5},
    {"fine", 5},
    {"d", 5},
    {"config", 7},
    {"info", 9},
    {"information", 9},
    {"informational", 9},
    {"i", 9},
    {"notice", 10},
    {"warn", 13},
    {"warning", 13},
    {"w", 13},
    {"error", 17},
    {"err", 17},
    {"e", 17},
    {"severe", 17},
    {"failure", 17},
    {"crit", 19},
    {"critical", 19},
    {"alert", 20},
    {"fatal", 21},
    {"f", 21},
    {"panic", 21},
    {"a", 21},
    {"emerg", 23},
    {"emergency", 23},
};

static const char *const texts[] = {"TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL"};

int gd_logmine_severity(const char *level, size_t len, const char **text)
{
    while (len && (*level == ' ' || *level == '\t' || *level == '['))
        level++, len--;
    while (len && (level[len - 1] == ' ' || level[len - 1] == '\t' || level[len - 1] == ']' ||
                   level[len - 1] == ':'))
        len--;
    for (size_t i = 0; i < sizeof sevs / sizeof sevs[0]; i++) {
        if (strlen(sevs[i].name) == len && strncasecmp(sevs[i].name, level, len) == 0) {
            if (text)
                *text = texts[(sevs[i].number - 1) / 4];
            return sevs[i].number;
        }
    }
    if (text)
        *text = NULL;
    return 0;
}
