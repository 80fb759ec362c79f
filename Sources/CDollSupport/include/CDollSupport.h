/* Umbrella header of the CDollSupport module. */
#include "doll_support.h"
#include "doll_lua.h"
#include "doll_fs.h"
