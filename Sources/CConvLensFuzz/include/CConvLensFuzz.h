#ifndef CCONVLENS_FUZZ_H
#define CCONVLENS_FUZZ_H
#include <stddef.h>
#include <stdint.h>
/* libFuzzer's entry point for programs that keep their own main (compiler-rt, LLVM >= 11); linked
   only when convlens-fuzz is built with -sanitize=fuzzer (`make fuzz`). */
int LLVMFuzzerRunDriver(int *argc, char ***argv, int (*callback)(const uint8_t *data, size_t size));
#endif
