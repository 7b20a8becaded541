/* Dynamic batching's tensor work: which requests can share a run, their inputs joined along
 * dimension 0, and each request's slice of the outputs. Pure functions, thread-safe. */
#ifndef GD_SERVE_MS_BATCH_H
#define GD_SERVE_MS_BATCH_H

#include "girder/engine.h"
#include "serve/ms_runtime.h"

#include <stdint.h>

/* Rows (dimension 0) of the job's first input. */
int64_t gd_ms_batch_rows(const struct gd_ms_job *j);
/* 1 when b's inputs have a's datatypes and shapes apart from dimension 0. */
int gd_ms_batch_compatible(const struct gd_ms_job *a, const struct gd_ms_job *b);
/* Input `input` of jobs[0..k) joined along dimension 0 into out (owned; BYTES elements are
 * borrowed from the jobs: release with gd_ms_batch_release). Errors: GD_ENOMEM, GD_ERANGE. */
int gd_ms_batch_concat(struct gd_ms_job *const *jobs, int k, int input, struct gd_tensor *out);
void gd_ms_batch_release(struct gd_tensor *t);
/* A view (not owning) of rows [row0, row0 + rows) of t, which has rank >= 1. */
void gd_ms_batch_view(const struct gd_tensor *t, int64_t row0, int64_t rows,
                      struct gd_tensor *view);

#endif
