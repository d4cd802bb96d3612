// Choosing OpenBLAS's kernels when its own CPU detection falls short (see convlens_kernels.h).
#include "convlens_kernels.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

// OpenBLAS exports these in its DYNAMIC_ARCH builds (Debian's); weak, so that a BLAS without them
// leaves the choice alone instead of failing to link.
extern char *openblas_get_corename(void) __attribute__((weak));
extern void gotoblas_dynamic_init(void) __attribute__((weak));
extern void gotoblas_dynamic_quit(void) __attribute__((weak));

// How wide a core's kernels are: 0 SSE-era, 1 AVX, 2 AVX2 + FMA, 3 AVX-512.
static int width_of_core(const char *name) {
    static const char *const avx512[] = {"SkylakeX", "Cooperlake", "SapphireRapids"};
    static const char *const avx2[] = {"Haswell", "Zen"};
    static const char *const avx[] = {"Sandybridge", "Bulldozer", "Piledriver", "Steamroller", "Excavator"};
    for (unsigned i = 0; i < sizeof avx512 / sizeof *avx512; i++) if (!strcasecmp(name, avx512[i])) return 3;
    for (unsigned i = 0; i < sizeof avx2 / sizeof *avx2; i++) if (!strcasecmp(name, avx2[i])) return 2;
    for (unsigned i = 0; i < sizeof avx / sizeof *avx; i++) if (!strcasecmp(name, avx[i])) return 1;
    return 0;
}

static char chosen_detected[32];
static int chosen_result = -2;  // not run yet

// Runs once, before main and before any thread of the program exists (OpenBLAS, a library this one
// depends on, is initialized first): setenv/unsetenv below are not safe while other threads read
// the environment.
static int choose_core(void) {
    if (!openblas_get_corename || !gotoblas_dynamic_init || !gotoblas_dynamic_quit) return -1;
    const char *found = openblas_get_corename();
    if (!found) return -1;
    strncpy(chosen_detected, found, sizeof chosen_detected - 1);
    if (getenv("OPENBLAS_CORETYPE")) return 0;  // the user chose
#if defined(__x86_64__)
    __builtin_cpu_init();
    const char *want = NULL;
    int width = 0;
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
        __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl")) {
        want = "SkylakeX";
        width = 3;
    } else if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) {
        want = "Haswell";
        width = 2;
    } else if (__builtin_cpu_supports("avx")) {
        want = "Sandybridge";
        width = 1;
    }
    if (!want || width_of_core(found) >= width) return 0;
    // gotoblas_dynamic_init reads OPENBLAS_CORETYPE, the variable OpenBLAS documents for this
    // choice; it is set only for the call.
    if (setenv("OPENBLAS_CORETYPE", want, 1) != 0) return -1;
    gotoblas_dynamic_quit();
    gotoblas_dynamic_init();
    unsetenv("OPENBLAS_CORETYPE");
    return 1;
#else
    return 0;
#endif
}

__attribute__((constructor)) static void choose_core_at_load(void) {
    if (chosen_result == -2) chosen_result = choose_core();
}

int convlens_openblas_choose_core(char *detected, int capacity) {
    if (chosen_result == -2) chosen_result = choose_core();  // a loader that skipped constructors
    if (detected && capacity > 0) {
        strncpy(detected, chosen_detected, (size_t)capacity - 1);
        detected[capacity - 1] = 0;
    }
    return chosen_result;
}
