#include <zlib.h>
/* inflateInit2 is a macro (it passes ZLIB_VERSION and the stream size). */
static inline int convlens_inflate_init_raw(z_streamp s) { return inflateInit2(s, -MAX_WBITS); }
