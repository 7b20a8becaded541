/* The engine thread pool behind gd_op_parallel_for. threads-1 workers wait for a job by
 * spinning for a while (~100 us: a model's nodes issue jobs tens of microseconds apart, and
 * a futex wake-up per node cost 2 threads most of their gain) and then sleep on a condition
 * variable; a job splits [0, n) into chunks that workers and the calling thread claim with
 * an atomic counter, and the caller returns once every chunk is done. One job runs at a
 * time (a session runs one node at a time); a parallel_for issued from inside a chunk runs
 * inline. BLAS is pinned to one thread (kernels/blas.c) so its own pool does not fight this
 * one. */
#include <pthread.h>
#include <stdatomic.h>

#include "core/alloc.h"
#include "engine/model.h"

struct gd_pool {
    int threads;
    pthread_t *tids;
    int n_tids;
    pthread_mutex_t mu;
    pthread_cond_t wake, done;
    atomic_uint_fast64_t gen; /* bumped per job (under mu; read unlocked while spinning) */
    int active;               /* workers inside work(); a new job starts only when 0 */
    int stop;
    /* current job */
    gd_op_range_fn fn;
    void *ud;
    int64_t n, chunk;
    atomic_int_fast64_t next;
    int64_t chunks;
    atomic_int_fast64_t finished;
    atomic_int next_slot; /* workers take slots 1.. as they start */
};

static _Thread_local int in_pool_job;
static _Thread_local int pool_slot; /* 0: a thread that runs nodes (the pool's caller) */

int gd_op_thread_slot(void)
{
    return pool_slot;
}

static void work(struct gd_pool *p)
{
    in_pool_job = 1;
    for (;;) {
        int64_t c = atomic_fetch_add(&p->next, 1);
        if (c >= p->chunks)
            break;
        int64_t b = c * p->chunk, e = b + p->chunk < p->n ? b + p->chunk : p->n;
        p->fn(p->ud, b, e);
        if (atomic_fetch_add(&p->finished, 1) + 1 == p->chunks) {
            pthread_mutex_lock(&p->mu);
            pthread_cond_broadcast(&p->done);
            pthread_mutex_unlock(&p->mu);
        }
    }
    in_pool_job = 0;
}

enum { SPIN = 4096 }; /* pause iterations before sleeping (~100 us) */

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

/* Returns once *v != seen or after SPIN rounds (the caller then checks under the lock). */
static void spin_while_eq(atomic_uint_fast64_t *v, uint64_t seen)
{
    for (int i = 0; i < SPIN && atomic_load_explicit(v, memory_order_acquire) == seen; i++)
        cpu_relax();
}

static void *worker(void *arg)
{
    struct gd_pool *p = arg;
    uint64_t seen = 0;
    pool_slot = atomic_fetch_add(&p->next_slot, 1) + 1;
    for (;;) {
        spin_while_eq(&p->gen, seen); /* a new job or stop both bump gen */
        pthread_mutex_lock(&p->mu);
        while (!p->stop && atomic_load(&p->gen) == seen)
            pthread_cond_wait(&p->wake, &p->mu);
        if (p->stop)
            break;
        seen = atomic_load(&p->gen);
        p->active++;
        pthread_mutex_unlock(&p->mu);
        work(p);
        pthread_mutex_lock(&p->mu);
        if (--p->active == 0)
            pthread_cond_broadcast(&p->done);
        pthread_mutex_unlock(&p->mu);
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

struct gd_pool *gd__pool_new(int threads)
{
    if (threads < 1)
        threads = 1;
    if (threads > 256)
        threads = 256;
    struct gd_pool *p = gd_calloc(1, sizeof *p);
    if (!p)
        return NULL;
    p->threads = threads;
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->wake, NULL);
    pthread_cond_init(&p->done, NULL);
    if (threads > 1 && !(p->tids = gd_calloc((size_t)threads - 1, sizeof(pthread_t)))) {
        gd__pool_free(p);
        return NULL;
    }
    for (int i = 0; i < threads - 1; i++) {
        if (pthread_create(&p->tids[i], NULL, worker, p) != 0)
            break; /* fewer workers is still correct */
        p->n_tids++;
    }
    return p;
}

void gd__pool_free(struct gd_pool *p)
{
    if (!p)
        return;
    pthread_mutex_lock(&p->mu);
    p->stop = 1;
    atomic_fetch_add(&p->gen, 1); /* ends the workers' spinning */
    pthread_cond_broadcast(&p->wake);
    pthread_mutex_unlock(&p->mu);
    for (int i = 0; i < p->n_tids; i++)
        pthread_join(p->tids[i], NULL);
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->wake);
    pthread_cond_destroy(&p->done);
    gd_free(p->tids);
    gd_free(p);
}

int gd__pool_threads(const struct gd_pool *p)
{
    return p->n_tids + 1;
}

void gd__pool_run(struct gd_pool *p, int64_t n, int64_t grain, gd_op_range_fn fn, void *ud)
{
    int t = p->n_tids + 1;
    if (grain < 1)
        grain = 1;
    if (t == 1 || in_pool_job || n <= grain) {
        fn(ud, 0, n);
        return;
    }
    /* ~4 chunks per thread for balance, never below the grain. */
    int64_t chunk = (n + 4 * t - 1) / (4 * t);
    if (chunk < grain)
        chunk = grain;
    pthread_mutex_lock(&p->mu);
    p->fn = fn;
    p->ud = ud;
    p->n = n;
    p->chunk = chunk;
    p->chunks = (n + chunk - 1) / chunk;
    atomic_store(&p->next, 0);
    atomic_store(&p->finished, 0);
    atomic_fetch_add(&p->gen, 1);
    pthread_cond_broadcast(&p->wake);
    pthread_mutex_unlock(&p->mu);
    work(p);
    for (int i = 0; i < SPIN && atomic_load(&p->finished) < p->chunks; i++)
        cpu_relax(); /* the last chunks are usually about to finish */
    pthread_mutex_lock(&p->mu);
    while (atomic_load(&p->finished) < p->chunks || p->active > 0)
        pthread_cond_wait(&p->done, &p->mu);
    pthread_mutex_unlock(&p->mu);
}
