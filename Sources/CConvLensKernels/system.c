// System calls Swift's Glibc module does not declare.
#define _GNU_SOURCE
#include <unistd.h>
#include "convlens_kernels.h"

int convlens_syncfs(int fd) { return syncfs(fd); }
