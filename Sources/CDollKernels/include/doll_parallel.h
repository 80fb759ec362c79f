/* Parallel loops on the OpenMP thread team that oneDNN uses (libgomp), so that the engine's own
 * loops and oneDNN's kernels share one set of threads instead of fighting over the cores. */
#ifndef DOLL_PARALLEL_H
#define DOLL_PARALLEL_H

#ifdef __cplusplus
extern "C" {
#endif

/** Body of a parallel loop: handles items [lo, hi) as slice `slice` of the team. */
typedef void (*doll_range_fn)(void *ctx, long lo, long hi, int slice);

/** Splits [0, count) into `slices` contiguous ranges (at most the team size) and runs them on
 *  the OpenMP team, the caller's thread included. Nested calls run on the calling thread. */
void doll_parallel_ranges(long count, int slices, doll_range_fn body, void *ctx);

/** Threads in the OpenMP team (OMP_NUM_THREADS, else the cores this process may use). */
int doll_parallel_threads(void);

#ifdef __cplusplus
}
#endif

#endif
