#ifndef CRASHSH_CDECOMPRESS_SHIM_H
#define CRASHSH_CDECOMPRESS_SHIM_H
#include <zlib.h>
#include <libdeflate.h>
#include <lzo/lzo1x.h>
#include <snappy-c.h>
#include <zstd.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <fcntl.h>
#include <unistd.h>

/* zlib's inflateInit is a macro; re-expose what Swift needs as functions. */
static inline const char *crashsh_zlib_version(void) { return ZLIB_VERSION; }
/* lzo_init is a macro too. */
static inline int crashsh_lzo_init(void) { return lzo_init(); }
#endif
