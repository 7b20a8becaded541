/* Process collector: the standard process_* metrics every Prometheus client exposes, read
 * from /proc at scrape time (nothing runs between scrapes), plus girder_build_info. */
#include "obs/metrics.h"
#include "girder/error.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#ifndef GD_VERSION_STRING
#define GD_VERSION_STRING "unknown"
#endif

struct proc_stat {
    double cpu_seconds, start_time, vsize, rss;
    int ok;
};

/* Reads a small /proc file into buf (NUL-terminated); returns bytes or -1. */
static ssize_t read_small(const char *path, char *buf, size_t size)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    ssize_t n = read(fd, buf, size - 1);
    close(fd);
    if (n >= 0)
        buf[n] = '\0';
    return n;
}

/* Boot time (seconds since the epoch), from /proc/stat's btime line. */
static double boot_time(void)
{
    char buf[8192];
    if (read_small("/proc/stat", buf, sizeof buf) <= 0)
        return 0;
    const char *p = strstr(buf, "\nbtime ");
    return p ? strtod(p + 7, NULL) : 0;
}

/* /proc/self/stat fields 14 utime, 15 stime, 22 starttime, 23 vsize, 24 rss (man 5 proc). The
 * command name (field 2) may hold spaces and parentheses: parse from the last ')'. */
static void read_stat(struct proc_stat *st)
{
    char buf[2048];
    memset(st, 0, sizeof *st);
    if (read_small("/proc/self/stat", buf, sizeof buf) <= 0)
        return;
    char *p = strrchr(buf, ')');
    if (!p)
        return;
    p += 2; /* now at field 3 */
    double f[25] = {0};
    for (int field = 3; field <= 24 && *p; field++) {
        char *end;
        f[field] = strtod(p, &end);
        if (end == p && field != 3)
            return;
        p = end + (*end == ' ');
        if (field == 3)
            p = strchr(p, ' ') ? strchr(p, ' ') + 1 : p; /* field 3 is a letter */
    }
    double tck = (double)sysconf(_SC_CLK_TCK), page = (double)sysconf(_SC_PAGESIZE);
    st->cpu_seconds = (f[14] + f[15]) / tck;
    st->start_time = boot_time() + f[22] / tck;
    st->vsize = f[23];
    st->rss = f[24] * page;
    st->ok = 1;
}

static double open_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    if (!d)
        return 0;
    double n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        if (e->d_name[0] != '.')
            n++;
    closedir(d);
    return n - 1; /* the directory handle itself */
}

static int gauge(struct gd_buf *out, const char *name, const char *type, const char *help,
                 double v)
{
    int rc = gd_buf_printf(out, "# HELP %s %s\n# TYPE %s %s\n%s ", name, help, name, type, name);
    if (rc == 0)
        rc = gd_metrics_put_double(out, v);
    return rc ? rc : gd_buf_putc(out, '\n');
}

int gd_metrics_render_process(struct gd_buf *out)
{
    struct proc_stat st;
    read_stat(&st);
    struct rlimit rl;
    double max_fds = getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY
                         ? (double)rl.rlim_cur
                         : -1;
    int rc = 0;
    if (st.ok) {
        rc = gauge(out, "process_cpu_seconds_total", "counter",
                   "Total user and system CPU time spent in seconds.", st.cpu_seconds);
        if (rc == 0)
            rc = gauge(out, "process_resident_memory_bytes", "gauge",
                       "Resident memory size in bytes.", st.rss);
        if (rc == 0)
            rc = gauge(out, "process_virtual_memory_bytes", "gauge",
                       "Virtual memory size in bytes.", st.vsize);
        if (rc == 0)
            rc = gauge(out, "process_start_time_seconds", "gauge",
                       "Start time of the process since unix epoch in seconds.", st.start_time);
    }
    if (rc == 0)
        rc = gauge(out, "process_open_fds", "gauge", "Number of open file descriptors.",
                   open_fds());
    if (rc == 0 && max_fds >= 0)
        rc = gauge(out, "process_max_fds", "gauge",
                   "Maximum number of open file descriptors.", max_fds);
    if (rc == 0)
        rc = gd_buf_puts(out, "# HELP girder_build_info Build information; the value is 1.\n"
                              "# TYPE girder_build_info gauge\n"
                              "girder_build_info{version=\"" GD_VERSION_STRING "\"} 1\n");
    return rc;
}
