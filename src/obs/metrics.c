/* Metrics registry: families of counters, gauges and histograms with labelled children.
 *
 * Hot-path cost is one relaxed atomic add (counter), a CAS loop on a double (gauge add,
 * histogram sum) and a bucket search: the child pointer is looked up once, under the
 * family's mutex, and cached by the caller. Children are never removed while the registry
 * lives, which is what makes the cached pointers safe. Rendering walks each family under
 * its mutex and reads the atomics; a scrape sees every sample at some recent value, and a
 * histogram's _count always equals its +Inf bucket because both come from the same counts. */
#include "obs/metrics.h"
#include "core/alloc.h"
#include "core/hash.h"
#include "girder/error.h"

#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum mtype { M_COUNTER, M_GAUGE, M_HISTOGRAM };
static const char *const type_names[] = {"counter", "gauge", "histogram"};

struct gd_counter {
    _Atomic uint64_t v;
};
struct gd_gauge {
    _Atomic uint64_t bits; /* a double */
};
struct gd_histogram {
    const double *bounds;     /* the family's buckets */
    size_t n_bounds;
    _Atomic uint64_t sum_bits; /* a double */
    _Atomic uint64_t *counts;  /* n_bounds + 1, not cumulative; the last is +Inf */
};

struct child {
    struct child *hnext; /* hash chain */
    struct child *next;  /* creation order */
    uint64_t hash;
    char **values;
    size_t *lens;
    struct gd_counter counter;
    struct gd_gauge gauge;
    struct gd_histogram hist;
};

struct family {
    struct family *next;
    struct gd_metrics *reg;
    enum mtype type;
    char *name, *help;
    char **labels;
    size_t n_labels, max_series;
    double *buckets;
    size_t n_buckets;
    pthread_mutex_t mu;
    struct child **table; /* open hashing, power-of-two buckets */
    size_t table_cap, n_children;
    struct child *head, *tail;
};

#define MAX_COLLECTORS 32
struct gd_metrics {
    pthread_mutex_t mu;
    unsigned flags;
    struct family *head, *tail;
    struct {
        gd_metrics_collect_fn fn;
        void *ud;
    } collectors[MAX_COLLECTORS];
    size_t n_collectors;
    _Atomic uint64_t dropped; /* *_vec_get calls refused by a series cap */
};

const double gd_metrics_latency_buckets[] = {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005,
                                             0.01,   0.025,   0.05,   0.1,   0.25,   0.5,
                                             1,      2.5,     5,      10,    30,     60,
                                             120};
const size_t gd_metrics_latency_buckets_n =
    sizeof gd_metrics_latency_buckets / sizeof gd_metrics_latency_buckets[0];

/* ---- doubles in atomics -------------------------------------------------------------------- */

static uint64_t d2u(double d)
{
    uint64_t u;
    memcpy(&u, &d, sizeof u);
    return u;
}

static double u2d(uint64_t u)
{
    double d;
    memcpy(&d, &u, sizeof d);
    return d;
}

static void atomic_add_double(_Atomic uint64_t *bits, double delta)
{
    uint64_t old = atomic_load_explicit(bits, memory_order_relaxed);
    while (!atomic_compare_exchange_weak_explicit(bits, &old, d2u(u2d(old) + delta),
                                                  memory_order_relaxed, memory_order_relaxed))
        ;
}

/* ---- updates ------------------------------------------------------------------------------- */

void gd_counter_add(struct gd_counter *c, uint64_t n)
{
    if (c)
        atomic_fetch_add_explicit(&c->v, n, memory_order_relaxed);
}

void gd_gauge_set(struct gd_gauge *g, double v)
{
    if (g)
        atomic_store_explicit(&g->bits, d2u(v), memory_order_relaxed);
}

void gd_gauge_add(struct gd_gauge *g, double delta)
{
    if (g)
        atomic_add_double(&g->bits, delta);
}

void gd_histogram_observe(struct gd_histogram *h, double v)
{
    if (!h || isnan(v))
        return;
    size_t lo = 0, hi = h->n_bounds; /* first bound >= v, or n_bounds for +Inf */
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (v <= h->bounds[mid])
            hi = mid;
        else
            lo = mid + 1;
    }
    atomic_fetch_add_explicit(&h->counts[lo], 1, memory_order_relaxed);
    atomic_add_double(&h->sum_bits, v);
}

uint64_t gd_counter_value(const struct gd_counter *c)
{
    return c ? atomic_load_explicit(&c->v, memory_order_relaxed) : 0;
}

double gd_gauge_value(const struct gd_gauge *g)
{
    return g ? u2d(atomic_load_explicit(&g->bits, memory_order_relaxed)) : 0;
}

void gd_histogram_value(const struct gd_histogram *h, uint64_t *count, double *sum)
{
    uint64_t n = 0;
    for (size_t i = 0; h && i <= h->n_bounds; i++)
        n += atomic_load_explicit(&h->counts[i], memory_order_relaxed);
    if (count)
        *count = n;
    if (sum)
        *sum = h ? u2d(atomic_load_explicit(&h->sum_bits, memory_order_relaxed)) : 0;
}

/* ---- children ------------------------------------------------------------------------------ */

static uint64_t hash_values(const char *const *values, size_t n)
{
    uint64_t h = gd_hash_seed();
    for (size_t i = 0; i < n; i++)
        h = gd_hash_seeded(values[i], strlen(values[i]) + 1, h); /* +1: the NUL separates */
    return h;
}

static bool child_matches(const struct child *c, uint64_t hash, const char *const *values,
                          size_t n)
{
    if (c->hash != hash)
        return false;
    for (size_t i = 0; i < n; i++)
        if (strcmp(c->values[i], values[i]) != 0)
            return false;
    return true;
}

static void child_free(struct child *c, size_t n_labels)
{
    for (size_t i = 0; c->values && i < n_labels; i++)
        gd_free(c->values[i]);
    gd_free(c->values);
    gd_free(c->lens);
    gd_free((void *)c->hist.counts);
    gd_free(c);
}

static struct child *child_new(struct family *f, uint64_t hash, const char *const *values)
{
    struct child *c = gd_calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->hash = hash;
    c->values = gd_calloc(f->n_labels ? f->n_labels : 1, sizeof *c->values);
    c->lens = gd_calloc(f->n_labels ? f->n_labels : 1, sizeof *c->lens);
    if (!c->values || !c->lens)
        goto fail;
    for (size_t i = 0; i < f->n_labels; i++) {
        c->lens[i] = strlen(values[i]);
        if (!(c->values[i] = gd_strndup(values[i], c->lens[i])))
            goto fail;
    }
    if (f->type == M_HISTOGRAM) {
        c->hist.bounds = f->buckets;
        c->hist.n_bounds = f->n_buckets;
        c->hist.counts = gd_calloc(f->n_buckets + 1, sizeof *c->hist.counts);
        if (!c->hist.counts)
            goto fail;
    }
    return c;
fail:
    child_free(c, f->n_labels);
    return NULL;
}

static int table_grow(struct family *f)
{
    size_t cap = f->table_cap ? f->table_cap * 2 : 16;
    struct child **t = gd_calloc(cap, sizeof *t);
    if (!t)
        return GD_ENOMEM;
    for (struct child *c = f->head; c; c = c->next) {
        size_t i = c->hash & (cap - 1);
        c->hnext = t[i];
        t[i] = c;
    }
    gd_free(f->table);
    f->table = t;
    f->table_cap = cap;
    return 0;
}

/* Finds or creates the child for values; NULL past the cap or out of memory. */
static struct child *family_get(struct family *f, const char *const *values)
{
    static const char *const none[1] = {""};
    if (!f)
        return NULL;
    if (f->n_labels == 0)
        values = none;
    uint64_t hash = hash_values(values, f->n_labels);
    struct child *c = NULL;
    pthread_mutex_lock(&f->mu);
    for (c = f->table ? f->table[hash & (f->table_cap - 1)] : NULL; c; c = c->hnext)
        if (child_matches(c, hash, values, f->n_labels))
            goto out;
    if (f->n_children >= f->max_series) {
        atomic_fetch_add_explicit(&f->reg->dropped, 1, memory_order_relaxed);
        goto out;
    }
    if ((f->n_children + 1) * 4 > f->table_cap * 3 && table_grow(f))
        goto out;
    if (!(c = child_new(f, hash, values)))
        goto out;
    size_t i = hash & (f->table_cap - 1);
    c->hnext = f->table[i];
    f->table[i] = c;
    if (f->tail)
        f->tail->next = c;
    else
        f->head = c;
    f->tail = c;
    f->n_children++;
out:
    pthread_mutex_unlock(&f->mu);
    return c;
}

struct gd_counter *gd_counter_vec_get(struct gd_counter_vec *v, const char *const *values)
{
    struct child *c = family_get((struct family *)v, values);
    return c ? &c->counter : NULL;
}

struct gd_gauge *gd_gauge_vec_get(struct gd_gauge_vec *v, const char *const *values)
{
    struct child *c = family_get((struct family *)v, values);
    return c ? &c->gauge : NULL;
}

struct gd_histogram *gd_histogram_vec_get(struct gd_histogram_vec *v, const char *const *values)
{
    struct child *c = family_get((struct family *)v, values);
    return c ? &c->hist : NULL;
}

/* ---- registration -------------------------------------------------------------------------- */

static bool valid_name(const char *s, bool metric)
{
    if (!s || !*s)
        return false;
    for (const char *p = s; *p; p++) {
        char ch = *p;
        bool ok = ch == '_' || (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
                  (metric && ch == ':') || (p != s && ch >= '0' && ch <= '9');
        if (!ok)
            return false;
    }
    return metric || strncmp(s, "__", 2) != 0;
}

static int check_opts(const struct gd_metric_opts *o, enum mtype type, const double *buckets,
                      size_t n_buckets)
{
    if (!valid_name(o->name, true) || o->n_labels > GD_METRICS_MAX_LABELS ||
        (o->n_labels && !o->labels))
        return GD_EINVAL;
    for (size_t i = 0; i < o->n_labels; i++) {
        if (!valid_name(o->labels[i], false) ||
            (type == M_HISTOGRAM && strcmp(o->labels[i], "le") == 0))
            return GD_EINVAL;
        for (size_t j = 0; j < i; j++)
            if (strcmp(o->labels[i], o->labels[j]) == 0)
                return GD_EINVAL;
    }
    if (type != M_HISTOGRAM)
        return 0;
    if (!buckets || n_buckets == 0 || n_buckets > GD_METRICS_MAX_BUCKETS)
        return GD_EINVAL;
    for (size_t i = 0; i < n_buckets; i++)
        if (!isfinite(buckets[i]) || (i && buckets[i] <= buckets[i - 1]))
            return GD_EINVAL;
    return 0;
}

/* Same definition as an existing family? (help text may differ) */
static bool same_definition(const struct family *f, enum mtype type,
                            const struct gd_metric_opts *o, const double *b, size_t nb)
{
    if (f->type != type || f->n_labels != o->n_labels)
        return false;
    for (size_t i = 0; i < o->n_labels; i++)
        if (strcmp(f->labels[i], o->labels[i]) != 0)
            return false;
    if (type != M_HISTOGRAM)
        return true;
    return f->n_buckets == nb && memcmp(f->buckets, b, nb * sizeof *b) == 0;
}

static void family_free(struct family *f)
{
    struct child *c = f->head;
    while (c) {
        struct child *next = c->next;
        child_free(c, f->n_labels);
        c = next;
    }
    for (size_t i = 0; f->labels && i < f->n_labels; i++)
        gd_free(f->labels[i]);
    gd_free(f->labels);
    gd_free(f->buckets);
    gd_free(f->table);
    gd_free(f->name);
    gd_free(f->help);
    pthread_mutex_destroy(&f->mu);
    gd_free(f);
}

static struct family *family_new(enum mtype type, const struct gd_metric_opts *o,
                                 const double *buckets, size_t n_buckets)
{
    struct family *f = gd_calloc(1, sizeof *f);
    if (!f)
        return NULL;
    pthread_mutex_init(&f->mu, NULL);
    f->type = type;
    f->n_labels = o->n_labels;
    f->max_series = o->max_series ? o->max_series : GD_METRICS_DEFAULT_MAX_SERIES;
    f->name = gd_strdup(o->name);
    f->help = gd_strdup(o->help ? o->help : "");
    f->labels = gd_calloc(o->n_labels ? o->n_labels : 1, sizeof *f->labels);
    if (!f->name || !f->help || !f->labels)
        goto fail;
    for (size_t i = 0; i < o->n_labels; i++)
        if (!(f->labels[i] = gd_strdup(o->labels[i])))
            goto fail;
    if (type == M_HISTOGRAM) {
        f->n_buckets = n_buckets;
        if (!(f->buckets = gd_calloc(n_buckets, sizeof *f->buckets)))
            goto fail;
        memcpy(f->buckets, buckets, n_buckets * sizeof *buckets);
    }
    return f;
fail:
    family_free(f);
    return NULL;
}

static int register_family(struct gd_metrics *m, enum mtype type, const struct gd_metric_opts *o,
                           const double *buckets, size_t n_buckets, struct family **out)
{
    *out = NULL;
    int rc = check_opts(o, type, buckets, n_buckets);
    if (rc)
        return rc;
    pthread_mutex_lock(&m->mu);
    for (struct family *f = m->head; f; f = f->next) {
        if (strcmp(f->name, o->name) == 0) {
            rc = same_definition(f, type, o, buckets, n_buckets) ? 0 : GD_EEXIST;
            *out = rc ? NULL : f;
            pthread_mutex_unlock(&m->mu);
            return rc;
        }
    }
    struct family *f = family_new(type, o, buckets, n_buckets);
    if (f) {
        f->reg = m;
        if (m->tail)
            m->tail->next = f;
        else
            m->head = f;
        m->tail = f;
    }
    pthread_mutex_unlock(&m->mu);
    if (!f)
        return GD_ENOMEM;
    if (f->n_labels == 0)
        family_get(f, NULL); /* an unlabelled metric exists (as 0) from the start */
    *out = f;
    return 0;
}

int gd_metrics_counter(struct gd_metrics *m, const struct gd_metric_opts *o,
                       struct gd_counter_vec **out)
{
    return register_family(m, M_COUNTER, o, NULL, 0, (struct family **)out);
}

int gd_metrics_gauge(struct gd_metrics *m, const struct gd_metric_opts *o,
                     struct gd_gauge_vec **out)
{
    return register_family(m, M_GAUGE, o, NULL, 0, (struct family **)out);
}

int gd_metrics_histogram(struct gd_metrics *m, const struct gd_metric_opts *o,
                         const double *buckets, size_t n_buckets, struct gd_histogram_vec **out)
{
    return register_family(m, M_HISTOGRAM, o, buckets, n_buckets, (struct family **)out);
}

int gd_metrics_add_collector(struct gd_metrics *m, gd_metrics_collect_fn fn, void *ud)
{
    int rc = GD_ELIMIT;
    pthread_mutex_lock(&m->mu);
    if (m->n_collectors < MAX_COLLECTORS) {
        m->collectors[m->n_collectors].fn = fn;
        m->collectors[m->n_collectors].ud = ud;
        m->n_collectors++;
        rc = 0;
    }
    pthread_mutex_unlock(&m->mu);
    return rc;
}

/* ---- registry ------------------------------------------------------------------------------ */

struct gd_metrics *gd_metrics_new(unsigned flags)
{
    struct gd_metrics *m = gd_calloc(1, sizeof *m);
    if (!m)
        return NULL;
    pthread_mutex_init(&m->mu, NULL);
    m->flags = flags;
    return m;
}

void gd_metrics_free(struct gd_metrics *m)
{
    if (!m)
        return;
    struct family *f = m->head;
    while (f) {
        struct family *next = f->next;
        family_free(f);
        f = next;
    }
    pthread_mutex_destroy(&m->mu);
    gd_free(m);
}

static struct gd_metrics *default_registry;
static pthread_once_t default_once = PTHREAD_ONCE_INIT;

static void default_init(void)
{
    default_registry = gd_metrics_new(GD_METRICS_WITH_PROCESS);
}

struct gd_metrics *gd_metrics_default(void)
{
    pthread_once(&default_once, default_init);
    return default_registry;
}

/* ---- rendering ----------------------------------------------------------------------------- */

/* Prometheus float text: shortest of %.15g / %.17g that reads back exactly, NaN, +Inf, -Inf. */
static void format_double(double v, char tmp[32])
{
    if (isnan(v) || isinf(v)) {
        snprintf(tmp, 32, "%s", isnan(v) ? "NaN" : v > 0 ? "+Inf" : "-Inf");
        return;
    }
    snprintf(tmp, 32, "%.15g", v);
    if (strtod(tmp, NULL) != v)
        snprintf(tmp, 32, "%.17g", v);
}

int gd_metrics_put_double(struct gd_buf *out, double v)
{
    char tmp[32];
    format_double(v, tmp);
    return gd_buf_puts(out, tmp);
}

int gd_metrics_put_label_value(struct gd_buf *out, const char *s, size_t n)
{
    int rc = 0;
    size_t run = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        const char *esc = s[i] == '\\' ? "\\\\" : s[i] == '"' ? "\\\"" : s[i] == '\n' ? "\\n" : NULL;
        if (!esc)
            continue;
        rc = gd_buf_append(out, s + run, i - run);
        if (rc == 0)
            rc = gd_buf_puts(out, esc);
        run = i + 1;
    }
    return rc ? rc : gd_buf_append(out, s + run, n - run);
}

/* HELP text escaping: backslash and newline only. */
static int put_help(struct gd_buf *out, const char *s)
{
    int rc = 0;
    for (; *s && rc == 0; s++)
        rc = *s == '\\' ? gd_buf_puts(out, "\\\\")
             : *s == '\n' ? gd_buf_puts(out, "\\n")
                          : gd_buf_putc(out, *s);
    return rc;
}

/* name{l1="v1",...[,le="x"]} with an optional suffix on the name. */
static int put_series(struct gd_buf *out, const struct family *f, const struct child *c,
                      const char *suffix, const char *le)
{
    int rc = gd_buf_puts(out, f->name);
    if (rc == 0 && suffix)
        rc = gd_buf_puts(out, suffix);
    if (rc || (f->n_labels == 0 && !le))
        return rc;
    rc = gd_buf_putc(out, '{');
    for (size_t i = 0; i < f->n_labels && rc == 0; i++) {
        rc = gd_buf_printf(out, "%s%s=\"", i ? "," : "", f->labels[i]);
        if (rc == 0)
            rc = gd_metrics_put_label_value(out, c->values[i], c->lens[i]);
        if (rc == 0)
            rc = gd_buf_putc(out, '"');
    }
    if (rc == 0 && le)
        rc = gd_buf_printf(out, "%sle=\"%s\"", f->n_labels ? "," : "", le);
    return rc ? rc : gd_buf_putc(out, '}');
}

static int render_histogram(struct gd_buf *out, const struct family *f, const struct child *c)
{
    uint64_t cum = 0;
    int rc = 0;
    for (size_t i = 0; i <= f->n_buckets && rc == 0; i++) {
        char le[32] = "+Inf";
        if (i < f->n_buckets)
            format_double(f->buckets[i], le);
        cum += atomic_load_explicit(&c->hist.counts[i], memory_order_relaxed);
        if (rc == 0)
            rc = put_series(out, f, c, "_bucket", le);
        if (rc == 0)
            rc = gd_buf_printf(out, " %llu\n", (unsigned long long)cum);
    }
    if (rc == 0)
        rc = put_series(out, f, c, "_sum", NULL);
    if (rc == 0)
        rc = gd_buf_putc(out, ' ');
    if (rc == 0)
        rc = gd_metrics_put_double(out, u2d(atomic_load_explicit(&c->hist.sum_bits,
                                                                 memory_order_relaxed)));
    if (rc == 0)
        rc = gd_buf_putc(out, '\n');
    if (rc == 0)
        rc = put_series(out, f, c, "_count", NULL);
    return rc ? rc : gd_buf_printf(out, " %llu\n", (unsigned long long)cum);
}

static int render_family(struct gd_buf *out, struct family *f)
{
    int rc = gd_buf_printf(out, "# HELP %s ", f->name);
    if (rc == 0)
        rc = put_help(out, f->help);
    if (rc == 0)
        rc = gd_buf_printf(out, "\n# TYPE %s %s\n", f->name, type_names[f->type]);
    pthread_mutex_lock(&f->mu);
    for (struct child *c = f->head; c && rc == 0; c = c->next) {
        if (f->type == M_HISTOGRAM) {
            rc = render_histogram(out, f, c);
            continue;
        }
        rc = put_series(out, f, c, NULL, NULL);
        if (rc == 0 && f->type == M_COUNTER)
            rc = gd_buf_printf(out, " %llu\n", (unsigned long long)gd_counter_value(&c->counter));
        else if (rc == 0) {
            rc = gd_buf_putc(out, ' ');
            if (rc == 0)
                rc = gd_metrics_put_double(out, gd_gauge_value(&c->gauge));
            if (rc == 0)
                rc = gd_buf_putc(out, '\n');
        }
    }
    pthread_mutex_unlock(&f->mu);
    return rc;
}

int gd_metrics_render(struct gd_metrics *m, struct gd_buf *out)
{
    int rc = 0;
    pthread_mutex_lock(&m->mu);
    for (struct family *f = m->head; f && rc == 0; f = f->next)
        rc = render_family(out, f);
    size_t n = m->n_collectors;
    gd_metrics_collect_fn fns[MAX_COLLECTORS];
    void *uds[MAX_COLLECTORS];
    for (size_t i = 0; i < n; i++)
        fns[i] = m->collectors[i].fn, uds[i] = m->collectors[i].ud;
    pthread_mutex_unlock(&m->mu);
    for (size_t i = 0; i < n && rc == 0; i++)
        rc = fns[i](uds[i], out);
    uint64_t dropped = atomic_load_explicit(&m->dropped, memory_order_relaxed);
    if (rc == 0 && (dropped || (m->flags & GD_METRICS_WITH_PROCESS)))
        rc = gd_buf_printf(out,
                           "# HELP girder_metrics_series_dropped_total Label sets refused "
                           "because a metric reached its series cap.\n"
                           "# TYPE girder_metrics_series_dropped_total counter\n"
                           "girder_metrics_series_dropped_total %llu\n",
                           (unsigned long long)dropped);
    if (rc == 0 && (m->flags & GD_METRICS_WITH_PROCESS))
        rc = gd_metrics_render_process(out);
    return rc;
}
