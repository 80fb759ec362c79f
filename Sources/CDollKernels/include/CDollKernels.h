/* The module's umbrella: oneDNN convolutions, OpenMP parallel loops, vector loops. */
#include "doll_dnnl.h"
#include "doll_parallel.h"
#include "doll_vec.h"
#include "doll_memory.h"
