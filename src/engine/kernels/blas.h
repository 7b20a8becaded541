/* CBLAS, loaded with dlopen on first use rather than linked: processes that never run a
 * model (`girder serve` without models, `girder logs`) then neither map OpenBLAS and
 * libgfortran nor start OpenBLAS's threads, which keeps an idle server small.
 * Thread-safe (loaded once under pthread_once). */
#ifndef GD_ENGINE_KERNELS_BLAS_H
#define GD_ENGINE_KERNELS_BLAS_H

#include <cblas.h>

struct gd_blas {
    __typeof__(cblas_sgemm) *sgemm;
    __typeof__(cblas_dgemm) *dgemm;
};

/* The process-wide CBLAS (libopenblas.so.0, else Debian's libcblas.so.3 / libblas.so.3),
 * pinned to one thread because the engine drives its own pool; NULL when none loads. */
const struct gd_blas *gd_blas_get(void);

#endif
