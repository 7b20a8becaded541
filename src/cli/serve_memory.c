/* Returning memory to the kernel after a load spike.
 *
 * glibc keeps freed heap memory in its arenas (a free only trims the top of a heap), so once
 * thousands of concurrent requests have completed, RSS stays at the spike's level for good.
 * Every few seconds the main thread compares RSS with the bytes malloc has in use; when far
 * more is resident than in use, malloc_trim(0) gives the free pages back (MADV_DONTNEED on
 * the free chunks of every arena). Under steady load little is free and nothing happens;
 * after a trim RSS has fallen, so the check does not fire again until the next spike.
 * Sanitizer builds bring their own allocator: there the check is off. */
#include "cli/serve.h"
#include "core/log.h"
#include "net/loop.h"

#include <fcntl.h>
#include <malloc.h>
#include <stdio.h>
#include <unistd.h>

#if defined(__SANITIZE_ADDRESS__)
#define GD_OWN_MALLOC 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define GD_OWN_MALLOC 0
#endif
#endif
#ifndef GD_OWN_MALLOC
#define GD_OWN_MALLOC 1
#endif

#define CHECK_EVERY_MS 5000
#define MIN_SLACK_BYTES ((size_t)32 << 20)

static struct {
    int statm_fd;
    long page;
    struct gd_timer timer;
} M = {.statm_fd = -1};

static size_t rss_bytes(void)
{
    char buf[128];
    ssize_t n = pread(M.statm_fd, buf, sizeof buf - 1, 0);
    unsigned long size, resident;
    if (n <= 0)
        return 0;
    buf[n] = '\0';
    if (sscanf(buf, "%lu %lu", &size, &resident) != 2)
        return 0;
    return (size_t)resident * (size_t)M.page;
}

static void check(struct gd_loop *loop, struct gd_timer *t, void *ud)
{
    (void)ud;
    size_t rss = rss_bytes();
    struct mallinfo2 mi = mallinfo2();
    size_t in_use = mi.uordblks + mi.hblkhd; /* arena chunks + mmapped blocks */
    if (rss > in_use && rss - in_use > MIN_SLACK_BYTES && rss - in_use > in_use) {
        malloc_trim(0);
        gd_logf(GD_LOG_INFO,
                "msg=\"memory returned\" rss_before_kb=%zu rss_after_kb=%zu "
                "malloc_in_use_kb=%zu",
                rss >> 10, rss_bytes() >> 10, in_use >> 10);
    }
    gd_timer_start(loop, t, CHECK_EVERY_MS);
}

void gd_serve_memory_start(struct gd_loop *loop)
{
    if (!GD_OWN_MALLOC || M.statm_fd >= 0)
        return;
    M.page = sysconf(_SC_PAGESIZE);
    if (M.page <= 0 || (M.statm_fd = open("/proc/self/statm", O_RDONLY | O_CLOEXEC)) < 0)
        return; /* no procfs: keep what malloc keeps */
    gd_timer_init(&M.timer, check, NULL);
    gd_timer_start(loop, &M.timer, CHECK_EVERY_MS);
}

void gd_serve_memory_stop(struct gd_loop *loop)
{
    if (M.statm_fd < 0)
        return;
    gd_timer_stop(loop, &M.timer);
    close(M.statm_fd);
    M.statm_fd = -1;
}
