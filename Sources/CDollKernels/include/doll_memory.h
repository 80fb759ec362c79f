/* Process-wide allocator settings for the engine's buffer pool. */
#ifndef DOLL_MEMORY_H
#define DOLL_MEMORY_H

#ifdef __cplusplus
extern "C" {
#endif

/** Fixes glibc's mmap threshold at `bytes` (allocations from that size up are mapped and
 *  unmapped whole; glibc's sliding threshold is switched off). Returns 1 on success. */
int doll_memory_fix_mmap_threshold(long bytes);

#ifdef __cplusplus
}
#endif

#endif
