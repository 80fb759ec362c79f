// Parallel loops through libgomp's entry point for `#pragma omp parallel` (GOMP_parallel, the
// ABI GCC emits), declared here so any C compiler can call the runtime oneDNN links.
#include "doll_parallel.h"

extern void GOMP_parallel(void (*fn)(void *), void *data, unsigned num_threads, unsigned flags);
extern int omp_get_thread_num(void);
extern int omp_get_num_threads(void);
extern int omp_get_max_threads(void);
extern int omp_in_parallel(void);

struct job {
    doll_range_fn body;
    void *ctx;
    long count;
};

static void run_slice(void *p) {
    const struct job *j = p;
    long t = omp_get_thread_num(), nt = omp_get_num_threads();
    long lo = j->count * t / nt, hi = j->count * (t + 1) / nt;
    if (lo < hi) j->body(j->ctx, lo, hi, (int)t);
}

void doll_parallel_ranges(long count, int slices, doll_range_fn body, void *ctx) {
    if (count <= 0) return;
    if (slices <= 1 || count == 1 || omp_in_parallel()) {
        body(ctx, 0, count, 0);
        return;
    }
    if (slices > count) slices = (int)count;
    struct job j = {body, ctx, count};
    GOMP_parallel(run_slice, &j, (unsigned)slices, 0);
}

int doll_parallel_threads(void) { return omp_get_max_threads(); }
