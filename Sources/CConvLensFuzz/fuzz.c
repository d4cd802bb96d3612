/* Declarations only (include/CConvLensFuzz.h); a C target needs one source file. */
#include "CConvLensFuzz.h"
