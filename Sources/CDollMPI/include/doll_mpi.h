#ifndef DOLL_MPI_H
#define DOLL_MPI_H
#include <stddef.h>
#include <stdint.h>

/* Open MPI behind plain functions (MPI_COMM_WORLD and the datatypes are macros Swift cannot
   import). Every call returns 0 on success or MPI's error code; errors on the world
   communicator are fatal by default, so a rank that dies ends the whole job. */

/* 1 when this process was started by mpirun (Open MPI sets OMPI_COMM_WORLD_SIZE). */
int doll_mpi_launched(void);
/* MPI_Init_thread with MPI_THREAD_FUNNELED; 0 on success. */
int doll_mpi_init(void);
int doll_mpi_initialized(void);
int doll_mpi_rank(void);
int doll_mpi_size(void);
int doll_mpi_barrier(void);
/* In-place sum over all ranks. */
int doll_mpi_allreduce_sum_float(float *values, int64_t count);
int doll_mpi_allreduce_sum_double(double *values, int64_t count);
/* Root's bytes to every rank. */
int doll_mpi_broadcast(void *bytes, int64_t count, int root);
/* Every rank's byte count into counts[size]. */
int doll_mpi_allgather_counts(int64_t mine, int64_t *counts);
/* Every rank's bytes, concatenated in rank order into out (sum of counts bytes). */
int doll_mpi_allgather_bytes(const void *mine, int64_t count, const int64_t *counts, void *out);
/* Ends every rank of the job with this exit code. */
void doll_mpi_abort(int code);
void doll_mpi_finalize(void);

#endif
