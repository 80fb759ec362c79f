#include "doll_mpi.h"
#include <limits.h>
#include <mpi.h>
#include <stdlib.h>

int doll_mpi_launched(void) {
    const char *s = getenv("OMPI_COMM_WORLD_SIZE");
    return s != NULL && s[0] != '\0';
}

int doll_mpi_init(void) {
    int provided = 0;
    return MPI_Init_thread(NULL, NULL, MPI_THREAD_FUNNELED, &provided);
}

int doll_mpi_initialized(void) {
    int flag = 0, finalized = 0;
    MPI_Initialized(&flag);
    MPI_Finalized(&finalized);
    return flag && !finalized;
}

int doll_mpi_rank(void) {
    int r = 0;
    MPI_Comm_rank(MPI_COMM_WORLD, &r);
    return r;
}

int doll_mpi_size(void) {
    int s = 1;
    MPI_Comm_size(MPI_COMM_WORLD, &s);
    return s;
}

int doll_mpi_barrier(void) { return MPI_Barrier(MPI_COMM_WORLD); }

/* Large buffers go in pieces of at most INT_MAX elements (MPI counts are int). */
int doll_mpi_allreduce_sum_float(float *values, int64_t count) {
    for (int64_t at = 0; at < count; at += INT_MAX) {
        int n = (int)(count - at < INT_MAX ? count - at : INT_MAX);
        int rc = MPI_Allreduce(MPI_IN_PLACE, values + at, n, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
        if (rc != MPI_SUCCESS) return rc;
    }
    return 0;
}

int doll_mpi_allreduce_sum_double(double *values, int64_t count) {
    for (int64_t at = 0; at < count; at += INT_MAX) {
        int n = (int)(count - at < INT_MAX ? count - at : INT_MAX);
        int rc = MPI_Allreduce(MPI_IN_PLACE, values + at, n, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD);
        if (rc != MPI_SUCCESS) return rc;
    }
    return 0;
}

int doll_mpi_broadcast(void *bytes, int64_t count, int root) {
    for (int64_t at = 0; at < count; at += INT_MAX) {
        int n = (int)(count - at < INT_MAX ? count - at : INT_MAX);
        int rc = MPI_Bcast((char *)bytes + at, n, MPI_BYTE, root, MPI_COMM_WORLD);
        if (rc != MPI_SUCCESS) return rc;
    }
    return 0;
}

int doll_mpi_allgather_counts(int64_t mine, int64_t *counts) {
    return MPI_Allgather(&mine, 1, MPI_INT64_T, counts, 1, MPI_INT64_T, MPI_COMM_WORLD);
}

int doll_mpi_allgather_bytes(const void *mine, int64_t count, const int64_t *counts, void *out) {
    int size = doll_mpi_size();
    int *c = malloc(sizeof(int) * (size_t)size), *d = malloc(sizeof(int) * (size_t)size);
    if (c == NULL || d == NULL) { free(c); free(d); return MPI_ERR_NO_MEM; }
    int64_t total = 0;
    for (int i = 0; i < size; i++) {
        if (counts[i] > INT_MAX || total > INT_MAX) { free(c); free(d); return MPI_ERR_COUNT; }
        c[i] = (int)counts[i];
        d[i] = (int)total;
        total += counts[i];
    }
    int rc = MPI_Allgatherv(mine, (int)count, MPI_BYTE, out, c, d, MPI_BYTE, MPI_COMM_WORLD);
    free(c);
    free(d);
    return rc;
}

void doll_mpi_abort(int code) { MPI_Abort(MPI_COMM_WORLD, code); }

void doll_mpi_finalize(void) {
    if (doll_mpi_initialized()) MPI_Finalize();
}
