#include "engine/kernels/blas.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stddef.h>

static struct gd_blas blas;
static const struct gd_blas *loaded;
static pthread_once_t once = PTHREAD_ONCE_INIT;

static void load(void)
{
    static const char *const names[] = {"libopenblas.so.0", "libcblas.so.3", "libblas.so.3"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        void *h = dlopen(names[i], RTLD_NOW | RTLD_LOCAL);
        if (!h)
            continue;
        blas.sgemm = (__typeof__(blas.sgemm))dlsym(h, "cblas_sgemm");
        blas.dgemm = (__typeof__(blas.dgemm))dlsym(h, "cblas_dgemm");
        void (*set_threads)(int) = (void (*)(int))dlsym(h, "openblas_set_num_threads");
        if (blas.sgemm && blas.dgemm) {
            if (set_threads)
                set_threads(1);
            loaded = &blas;
            return; /* the handle stays open for the life of the process */
        }
        dlclose(h);
    }
}

const struct gd_blas *gd_blas_get(void)
{
    pthread_once(&once, load);
    return loaded;
}
