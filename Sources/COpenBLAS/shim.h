#include <cblas.h>
/* OpenBLAS extensions to set the thread count (not in the CBLAS standard). */
void openblas_set_num_threads(int num_threads);
int openblas_get_num_threads(void);
/* The kernels OpenBLAS runs ("Haswell", "SkylakeX", …) and its build configuration. */
char *openblas_get_corename(void);
char *openblas_get_config(void);
