/* Semantic health probes of served models (config `probe:`): a model is ready only while
 * its probe passes. A probe is a KServe v2 infer request sent through the model's own
 * queue and workers, exactly as a client's would be, and its JSON answer compared with the
 * expected response: every expected output must be present with the same shape, numbers
 * within atol + rtol * |expected|, strings and booleans equal. Without `expect` the probe
 * only has to be answered 200.
 *
 * The prober runs every probe once when it is created (start-up or reload) and then, on
 * its own thread, each model's probe every interval_ms. A probe that finds the queue full
 * counts as neither pass nor fail (the model is busy, not broken); one not answered within
 * timeout_ms fails (stuck workers).
 *
 * Threading: gd_ms_prober_new/free on one thread; gd_ms_prober_ready from any thread. */
#ifndef GD_SERVE_MS_PROBE_H
#define GD_SERVE_MS_PROBE_H

#include "obs/metrics.h"
#include "serve/ms_runtime.h"

#include <stddef.h>

struct gd_ms_prober;

/* Probes every loaded model of rt that has a probe (ready[i], when not NULL, is set to 1 or
 * 0 as model i's state changes) and starts the periodic thread when one needs it. A
 * required model whose first probe fails fails the whole call (err names the model and
 * what differed); an optional one stays loaded but not ready. Errors: GD_EINVAL (a
 * required model failed its probe), GD_EIO (no thread), GD_ENOMEM. */
int gd_ms_prober_new(struct gd_ms_runtime *rt, struct gd_gauge *const *ready,
                     struct gd_ms_prober **out, char *err, size_t errlen);
/* Stops the thread (waiting for a probe in flight) and frees. NULL is a no-op. */
void gd_ms_prober_free(struct gd_ms_prober *p);

/* 1 when model i passes its probe (or has none); else 0 with the last failure in why. */
int gd_ms_prober_ready(struct gd_ms_prober *p, size_t i, char *why, size_t whylen);

/* Compares an infer response (JSON) with the expected one: 0 when it matches, else
 * GD_EINVAL with the first difference in why. Pure; exposed for tests. */
int gd_ms_probe_compare(const char *got, size_t got_len, const char *want, size_t want_len,
                        double atol, double rtol, char *why, size_t whylen);

#endif
