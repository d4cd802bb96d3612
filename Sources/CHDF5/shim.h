#include <hdf5.h>
/* HDF5's handles for predefined types and property classes are macros that call H5open();
   Swift cannot import them (FACTS.md). */
static inline hid_t convlens_h5t_native_float(void) { return H5T_NATIVE_FLOAT; }
static inline hid_t convlens_h5t_c_s1(void) { return H5T_C_S1; }
static inline size_t convlens_h5t_variable(void) { return H5T_VARIABLE; }
static inline hid_t convlens_h5p_file_access(void) { return H5P_FILE_ACCESS; }
static inline unsigned convlens_h5f_acc_rdonly(void) { return H5F_ACC_RDONLY; }
static inline hid_t convlens_h5p_default(void) { return H5P_DEFAULT; }
static inline hid_t convlens_h5s_all(void) { return H5S_ALL; }
static inline hid_t convlens_h5e_default(void) { return H5E_DEFAULT; }
#include "snapshot.h"
