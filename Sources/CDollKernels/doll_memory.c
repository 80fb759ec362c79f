#include "doll_memory.h"

#include <malloc.h>

int doll_memory_fix_mmap_threshold(long bytes) { return mallopt(M_MMAP_THRESHOLD, (int)bytes); }
