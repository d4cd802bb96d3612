/* ConvLens reads HDF5 files (Keras models) as untrusted input: libhdf5 runs in a forked child
   process that walks the file and streams a snapshot of it through a pipe, so a crash or an
   endless loop inside libhdf5 on a corrupt file kills only the child (Docs/Reliability.md).

   The child runs only this C code and libhdf5 (no Swift runtime) with no file descriptor of the
   parent's but the pipe, loads no filter plugins, opens only the named file (or reads the
   in-memory image), follows hard links only and visits each object once (never soft or external
   links, never external or virtual dataset storage), and stops at fixed limits. The parent
   (HDF5.swift) bounds the time and the bytes, decodes the stream with bounds checks and turns
   every failure into one error line.

   Stream (native byte order: the parent is the same process image): "CLH5SNP1", then records,
   each a tag byte:
     'G' path                      a group
     'D' path u32 rank u64 dims[rank] u64 count float[count]   a float dataset, as float32
     'X' path u8 code msg          a dataset (or an object) that cannot be read (code 1: too large)
     'O' path                      another kind of object, or a second link to a group
     'B' path msg                  a group whose members cannot all be listed (after its 'G')
     'A' path name u64 len bytes   a scalar string attribute of the object at path
     'Y' path name msg             a string attribute that cannot be read
     'E' msg                       a fatal error (the file cannot be opened or is too big)
     'Z'                           the end: the walk finished
   where path, name and msg are u32 len + bytes. */
#ifndef CONVLENS_HDF5_SNAPSHOT_H
#define CONVLENS_HDF5_SNAPSHOT_H

#include <hdf5.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <unistd.h>

#define CONVLENS_H5_MAX_DEPTH 32
#define CONVLENS_H5_MAX_OBJECTS 100000
#define CONVLENS_H5_MAX_ATTRIBUTES 4096
#define CONVLENS_H5_MAX_ELEMENTS ((uint64_t)1 << 28)
#define CONVLENS_H5_MAX_TOTAL_ELEMENTS ((uint64_t)1 << 30)
#define CONVLENS_H5_MAX_STRING ((size_t)64 << 20)
#define CONVLENS_H5_MAX_TOTAL_STRING ((uint64_t)256 << 20)
#define CONVLENS_H5_MAX_NAME 4096

/* An object's identity in its file: its address (HDF5 1.10) or token (1.12 and later). */
typedef struct {
    unsigned char bytes[16];
} convlens_h5_id;

typedef struct {
    int fd;
    int ok;
    long objects;
    uint64_t elements;
    uint64_t stringBytes;
    const char *fatal;
    /* Root members to walk ('\n'-separated names), or NULL for all. */
    const char *roots;
    /* Objects already visited: an open-addressing set (capacity a power of two). */
    convlens_h5_id *seen;
    unsigned char *used;
    size_t seenCount, seenCapacity;
} convlens_h5_out;

static inline int convlens_h5_identity(hid_t obj, convlens_h5_id *id) {
    memset(id, 0, sizeof *id);
#if H5_VERSION_GE(1, 12, 0)
    H5O_info2_t info;
    memset(&info, 0, sizeof info);
    if (H5Oget_info3(obj, &info, H5O_INFO_BASIC) < 0) return -1;
    memcpy(id->bytes, &info.token, sizeof info.token < sizeof id->bytes ? sizeof info.token : sizeof id->bytes);
#else
    H5O_info_t info;
    memset(&info, 0, sizeof info);
    if (H5Oget_info2(obj, &info, H5O_INFO_BASIC) < 0) return -1;
    memcpy(id->bytes, &info.addr, sizeof info.addr);
#endif
    return 0;
}

static inline size_t convlens_h5_hash(const convlens_h5_id *id) {
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < sizeof id->bytes; i++) h = (h ^ id->bytes[i]) * 1099511628211ULL;
    return (size_t)h;
}

/* 1 when `id` is new (and now recorded), 0 when it was seen before, -1 when out of memory. */
static inline int convlens_h5_first_visit(convlens_h5_out *o, const convlens_h5_id *id) {
    if (2 * (o->seenCount + 1) > o->seenCapacity) {
        size_t capacity = o->seenCapacity ? 2 * o->seenCapacity : 256;
        convlens_h5_id *table = (convlens_h5_id *)calloc(capacity, sizeof *table);
        unsigned char *used = (unsigned char *)calloc(capacity, 1);
        if (!table || !used) { free(table); free(used); return -1; }
        for (size_t i = 0; i < o->seenCapacity; i++) {
            if (!o->used[i]) continue;
            size_t j = convlens_h5_hash(&o->seen[i]) & (capacity - 1);
            while (used[j]) j = (j + 1) & (capacity - 1);
            table[j] = o->seen[i];
            used[j] = 1;
        }
        free(o->seen);
        free(o->used);
        o->seen = table;
        o->used = used;
        o->seenCapacity = capacity;
    }
    size_t j = convlens_h5_hash(id) & (o->seenCapacity - 1);
    while (o->used[j]) {
        if (memcmp(o->seen[j].bytes, id->bytes, sizeof id->bytes) == 0) return 0;
        j = (j + 1) & (o->seenCapacity - 1);
    }
    o->seen[j] = *id;
    o->used[j] = 1;
    o->seenCount++;
    return 1;
}

static inline void convlens_h5_put(convlens_h5_out *o, const void *p, size_t n) {
    const char *c = (const char *)p;
    while (n > 0 && o->ok) {
        ssize_t w = write(o->fd, c, n);
        if (w < 0) {
            if (errno == EINTR) continue;
            o->ok = 0;
            return;
        }
        c += w;
        n -= (size_t)w;
    }
}

static inline void convlens_h5_tag(convlens_h5_out *o, char tag) { convlens_h5_put(o, &tag, 1); }

static inline void convlens_h5_u32(convlens_h5_out *o, uint32_t v) { convlens_h5_put(o, &v, 4); }

static inline void convlens_h5_u64(convlens_h5_out *o, uint64_t v) { convlens_h5_put(o, &v, 8); }

static inline void convlens_h5_bytes(convlens_h5_out *o, const char *s, size_t n) {
    convlens_h5_u32(o, (uint32_t)n);
    convlens_h5_put(o, s, n);
}

static inline void convlens_h5_text(convlens_h5_out *o, const char *s) { convlens_h5_bytes(o, s, strlen(s)); }

static inline void convlens_h5_unreadable(convlens_h5_out *o, const char *path, uint8_t code, const char *msg) {
    convlens_h5_tag(o, 'X');
    convlens_h5_text(o, path);
    convlens_h5_put(o, &code, 1);
    convlens_h5_text(o, msg);
}

/* One scalar string attribute (fixed or variable length, read with its own type); others are skipped. */
typedef struct {
    convlens_h5_out *out;
    const char *path;
    int seen;
} convlens_h5_attribute_walk;

static inline void convlens_h5_attribute_unreadable(convlens_h5_out *o, const char *path, const char *name, size_t nl,
                                                    const char *msg) {
    convlens_h5_tag(o, 'Y');
    convlens_h5_text(o, path);
    convlens_h5_bytes(o, name, nl);
    convlens_h5_text(o, msg);
}

static inline void convlens_h5_attribute_value(convlens_h5_out *o, const char *path, const char *name, size_t nl,
                                               const char *value, size_t len) {
    if (len >= CONVLENS_H5_MAX_STRING || o->stringBytes + len > CONVLENS_H5_MAX_TOTAL_STRING) {
        convlens_h5_attribute_unreadable(o, path, name, nl, "is too long (over 64 MiB, or 256 MiB of strings in all)");
        return;
    }
    o->stringBytes += len;
    convlens_h5_tag(o, 'A');
    convlens_h5_text(o, path);
    convlens_h5_bytes(o, name, nl);
    convlens_h5_u64(o, len);
    convlens_h5_put(o, value, len);
}

static inline herr_t convlens_h5_attribute(hid_t obj, const char *name, const H5A_info_t *info, void *data) {
    (void)info;
    convlens_h5_attribute_walk *walk = (convlens_h5_attribute_walk *)data;
    convlens_h5_out *o = walk->out;
    if (++walk->seen > CONVLENS_H5_MAX_ATTRIBUTES || !o->ok) return 1;
    size_t nl = strnlen(name, CONVLENS_H5_MAX_NAME);
    if (nl >= CONVLENS_H5_MAX_NAME) return 0;
    hid_t a = H5Aopen(obj, name, H5P_DEFAULT);
    if (a < 0) {
        convlens_h5_attribute_unreadable(o, walk->path, name, nl, "cannot be opened (the file is corrupt)");
        return 0;
    }
    hid_t t = H5Aget_type(a);
    hid_t s = H5Aget_space(a);
    if (t < 0 || s < 0) {
        convlens_h5_attribute_unreadable(o, walk->path, name, nl, "has an unreadable type or shape (the file is corrupt)");
    } else if (H5Tget_class(t) == H5T_STRING && H5Sget_simple_extent_npoints(s) == 1) {
        hid_t mt = H5Tcopy(t);
        int read = 0;
        if (mt >= 0) {
            if (H5Tis_variable_str(t) > 0) {
                char *ptr = NULL;
                if (H5Aread(a, mt, &ptr) >= 0) {
                    read = 1;
                    convlens_h5_attribute_value(o, walk->path, name, nl, ptr ? ptr : "", ptr ? strnlen(ptr, CONVLENS_H5_MAX_STRING) : 0);
                    if (ptr) H5free_memory(ptr);
                }
            } else {
                size_t size = H5Tget_size(t);
                char *buf = size > 0 && size < CONVLENS_H5_MAX_STRING ? (char *)calloc(size + 1, 1) : NULL;
                if (buf && H5Aread(a, mt, buf) >= 0) {
                    read = 1;
                    convlens_h5_attribute_value(o, walk->path, name, nl, buf, strnlen(buf, size));
                } else if (size >= CONVLENS_H5_MAX_STRING) {
                    read = 1;
                    convlens_h5_attribute_unreadable(o, walk->path, name, nl, "is too long (over 64 MiB)");
                }
                free(buf);
            }
            H5Tclose(mt);
        }
        if (!read) convlens_h5_attribute_unreadable(o, walk->path, name, nl, "cannot be read (the file is corrupt)");
    }
    if (s >= 0) H5Sclose(s);
    if (t >= 0) H5Tclose(t);
    H5Aclose(a);
    return 0;
}

/* Every scalar string attribute of an object, in name order (at most 4096 attributes). */
static inline void convlens_h5_attributes(convlens_h5_out *o, hid_t obj, const char *path) {
    convlens_h5_attribute_walk walk = {o, path, 0};
    hsize_t index = 0;
    H5Aiterate2(obj, H5_INDEX_NAME, H5_ITER_INC, &index, convlens_h5_attribute, &walk);
}

/* A floating-point dataset as float32 (libhdf5 converts float64/float16), after checking its
   rank, size, storage and layout. */
static inline void convlens_h5_dataset(convlens_h5_out *o, hid_t d, const char *path) {
    char msg[256];
    hid_t t = H5Dget_type(d);
    if (t < 0) { convlens_h5_unreadable(o, path, 0, "cannot read the dataset's type"); return; }
    H5T_class_t cls = H5Tget_class(t);
    size_t elementSize = H5Tget_size(t);
    H5Tclose(t);
    /* Integers too (an adapted Normalization's `count`); libhdf5 converts them to float. */
    if ((cls != H5T_FLOAT && cls != H5T_INTEGER) || elementSize == 0 || elementSize > 16) {
        convlens_h5_unreadable(o, path, 0, "is not a numeric dataset");
        return;
    }
    /* Storage first: asking a virtual dataset its extent may open its source files. */
    hid_t plist = H5Dget_create_plist(d);
    if (plist < 0) { convlens_h5_unreadable(o, path, 0, "cannot read the dataset's storage"); return; }
    H5D_layout_t layout = H5Pget_layout(plist);
    int external = H5Pget_external_count(plist);
    H5Pclose(plist);
    if (external != 0) {
        convlens_h5_unreadable(o, path, 0, "stores its data in external files, which ConvLens does not read");
        return;
    }
    if (layout == H5D_VIRTUAL || layout < 0) {
        convlens_h5_unreadable(o, path, 0, "is a virtual dataset (data in other files), which ConvLens does not read");
        return;
    }
    hid_t s = H5Dget_space(d);
    if (s < 0) { convlens_h5_unreadable(o, path, 0, "cannot read the dataset's shape"); return; }
    int rank = H5Sget_simple_extent_ndims(s);
    hsize_t dims[8] = {0};
    int got = rank >= 0 && rank <= 8 ? H5Sget_simple_extent_dims(s, dims, NULL) : -1;
    H5Sclose(s);
    if (rank < 0 || rank > 8) {
        snprintf(msg, sizeof msg, "has rank %d", rank);
        convlens_h5_unreadable(o, path, 0, msg);
        return;
    }
    if (got != rank) { convlens_h5_unreadable(o, path, 0, "cannot read the dataset's shape"); return; }
    uint64_t count = 1;
    int tooLarge = 0;
    for (int i = 0; i < rank; i++) {
        if (dims[i] > CONVLENS_H5_MAX_ELEMENTS) { tooLarge = 1; break; }
        count *= dims[i];
        if (count > CONVLENS_H5_MAX_ELEMENTS) { tooLarge = 1; break; }
    }
    if (tooLarge) {
        int n = snprintf(msg, sizeof msg, "the dataset's shape [");
        for (int i = 0; i < rank && n > 0 && (size_t)n < sizeof msg; i++)
            n += snprintf(msg + n, sizeof msg - (size_t)n, i ? ", %llu" : "%llu", (unsigned long long)dims[i]);
        if (n > 0 && (size_t)n < sizeof msg) snprintf(msg + n, sizeof msg - (size_t)n, "] is too large");
        convlens_h5_unreadable(o, path, 1, msg);
        return;
    }
    if (o->elements + count > CONVLENS_H5_MAX_TOTAL_ELEMENTS) {
        convlens_h5_unreadable(o, path, 1, "the file's datasets hold more than 2^30 values in all");
        return;
    }
    /* Contiguous (uncompressed) data must be fully present before anything is allocated. */
    if (layout == H5D_CONTIGUOUS && count > 0) {
        hsize_t stored = H5Dget_storage_size(d);
        if (stored < count * elementSize) {
            snprintf(msg, sizeof msg, "holds %llu bytes; its shape needs %llu", (unsigned long long)stored,
                     (unsigned long long)(count * elementSize));
            convlens_h5_unreadable(o, path, 0, msg);
            return;
        }
    }
    float *values = count > 0 ? (float *)malloc(count * sizeof(float)) : NULL;
    if (count > 0 && !values) { convlens_h5_unreadable(o, path, 1, "the dataset does not fit in memory"); return; }
    if (count > 0 && H5Dread(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, values) < 0) {
        free(values);
        convlens_h5_unreadable(o, path, 0, "cannot read the data (the file may be truncated)");
        return;
    }
    o->elements += count;
    convlens_h5_tag(o, 'D');
    convlens_h5_text(o, path);
    convlens_h5_u32(o, (uint32_t)rank);
    for (int i = 0; i < rank; i++) convlens_h5_u64(o, dims[i]);
    convlens_h5_u64(o, count);
    if (count > 0) convlens_h5_put(o, values, count * sizeof(float));
    free(values);
}

/* Whether `name` is one of the '\n'-separated names in `list`. */
static inline int convlens_h5_listed(const char *list, const char *name) {
    size_t n = strlen(name);
    for (const char *p = list; *p;) {
        const char *e = strchr(p, '\n');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        if (len == n && memcmp(p, name, n) == 0) return 1;
        if (!e) break;
        p = e + 1;
    }
    return 0;
}

/* A group, its attributes and, depth first in name order, its members reached by hard links.
   An object reached a second time (another hard link, or a cycle) is not walked again. */
static inline void convlens_h5_group(convlens_h5_out *o, hid_t g, const char *path, int depth) {
    convlens_h5_tag(o, 'G');
    convlens_h5_text(o, path);
    convlens_h5_attributes(o, g, path);
    if (depth >= CONVLENS_H5_MAX_DEPTH) {
        o->fatal = "groups nest more than 32 deep";
        return;
    }
    H5G_info_t info;
    if (H5Gget_info(g, &info) < 0) {
        convlens_h5_tag(o, 'B');
        convlens_h5_text(o, path);
        convlens_h5_text(o, "cannot list the group's members (the file is corrupt)");
        return;
    }
    for (hsize_t i = 0; i < info.nlinks && o->ok && !o->fatal; i++) {
        char name[CONVLENS_H5_MAX_NAME];
        ssize_t n = H5Lget_name_by_idx(g, ".", H5_INDEX_NAME, H5_ITER_INC, i, name, sizeof name, H5P_DEFAULT);
        H5L_info_t link;
        if (n <= 0 || (size_t)n >= sizeof name || H5Lget_info(g, name, &link, H5P_DEFAULT) < 0) {
            convlens_h5_tag(o, 'B');
            convlens_h5_text(o, path);
            convlens_h5_text(o, "cannot read the group's members (the file is corrupt)");
            return;
        }
        if (memchr(name, '/', (size_t)n) || strcmp(name, ".") == 0 || link.type != H5L_TYPE_HARD) continue;
        if (depth == 0 && o->roots && !convlens_h5_listed(o->roots, name)) continue;
        if (++o->objects > CONVLENS_H5_MAX_OBJECTS) {
            o->fatal = "the file holds more than 100000 objects";
            return;
        }
        size_t pl = strlen(path);
        char *child = (char *)malloc(pl + (size_t)n + 2);
        if (!child) { o->fatal = "out of memory"; return; }
        if (strcmp(path, "/") == 0) snprintf(child, pl + (size_t)n + 2, "/%s", name);
        else snprintf(child, pl + (size_t)n + 2, "%s/%s", path, name);
        hid_t c = H5Oopen(g, name, H5P_DEFAULT);
        H5I_type_t type = c >= 0 ? H5Iget_type(c) : H5I_BADID;
        /* Groups are visited once (cycles end there); a dataset may have several links (tied
           weights), each read, within the limit on values in all. */
        convlens_h5_id id;
        int first = c < 0 ? -2 : type != H5I_GROUP ? 1 : convlens_h5_identity(c, &id) == 0 ? convlens_h5_first_visit(o, &id) : -2;
        if (first == -2) {
            /* Reported where the importer reads it, rather than silently missing. */
            convlens_h5_unreadable(o, child, 0, "cannot be opened (the file is corrupt)");
        } else if (first < 0) {
            o->fatal = "out of memory";
        } else if (first == 0) {
            convlens_h5_tag(o, 'O');
            convlens_h5_text(o, child);
        } else if (type == H5I_GROUP) {
            convlens_h5_group(o, c, child, depth + 1);
        } else if (type == H5I_DATASET) {
            convlens_h5_dataset(o, c, child);
            convlens_h5_attributes(o, c, child);
        } else {
            convlens_h5_tag(o, 'O');
            convlens_h5_text(o, child);
        }
        if (c >= 0) H5Oclose(c);
        free(child);
    }
}

/* The child's whole work: open the file (on disk, or the image through the core driver), walk it
   (at the root, only the members named in `roots`, '\n'-separated, when it is not NULL), end the
   stream. */
static inline void convlens_h5_snapshot_write(const char *path, const void *image, size_t size, const char *roots, int fd) {
    convlens_h5_out o;
    memset(&o, 0, sizeof o);
    o.fd = fd;
    o.ok = 1;
    o.roots = roots;
    convlens_h5_put(&o, "CLH5SNP1", 8);
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    /* No filter plugins: an unknown filter id would make libhdf5 search for and load libraries. */
    H5PLset_loading_state(0);
    hid_t fapl = H5P_DEFAULT;
    if (image) {
        fapl = H5Pcreate(H5P_FILE_ACCESS);
        if (fapl < 0 || H5Pset_fapl_core(fapl, 1 << 20, 0) < 0 ||
            H5Pset_file_image(fapl, (void *)image, size) < 0) {
            convlens_h5_tag(&o, 'E');
            convlens_h5_text(&o, "cannot hand the file image to libhdf5");
            return;
        }
    }
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, fapl);
    if (f < 0) {
        convlens_h5_tag(&o, 'E');
        convlens_h5_text(&o, "not a readable HDF5 file (truncated or corrupt)");
        return;
    }
    hid_t root = H5Gopen2(f, "/", H5P_DEFAULT);
    if (root < 0) {
        convlens_h5_tag(&o, 'E');
        convlens_h5_text(&o, "the HDF5 file has no readable root group");
        return;
    }
    convlens_h5_id id;
    if (convlens_h5_identity(root, &id) == 0) convlens_h5_first_visit(&o, &id);
    convlens_h5_group(&o, root, "/", 0);
    if (o.fatal) {
        convlens_h5_tag(&o, 'E');
        convlens_h5_text(&o, o.fatal);
        return;
    }
    convlens_h5_tag(&o, 'Z');
}

/* Present only in a process built with a sanitizer (the fuzz build). */
extern void __sanitizer_set_death_callback(void (*callback)(void)) __attribute__((weak));
extern void __sanitizer_set_report_fd(void *fd) __attribute__((weak));

/* Forks the reader. Returns the child's pid (and the pipe's read end in *readFD), or -1 with errno.
   `memoryBudget` bytes of address space are allowed beyond what the process maps already (none
   when the process maps more than 1 TiB, as under AddressSanitizer). */
static inline pid_t convlens_h5_snapshot_spawn(const char *path, const void *image, size_t size, const char *roots,
                                               unsigned long long memoryBudget, int *readFD) {
    int p[2];
    if (pipe2(p, O_CLOEXEC) < 0) return -1;
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid < 0) {
        int e = errno;
        close(p[0]);
        close(p[1]);
        errno = e;
        return -1;
    }
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent) _exit(1); /* the parent died before the line above */
        /* A crash is the parent's to report: default actions for the deadly signals, and no
           sanitizer death callback (a fuzzer's would save the parent's input as its own crash). */
        int deadly[] = {SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT, SIGPIPE};
        for (size_t i = 0; i < sizeof deadly / sizeof deadly[0]; i++) signal(deadly[i], SIG_DFL);
        if (__sanitizer_set_death_callback) __sanitizer_set_death_callback(NULL);
        if (__sanitizer_set_report_fd) __sanitizer_set_report_fd((void *)(intptr_t)2);
        /* Only the pipe (as fd 3) and /dev/null on 0-2: no descriptor of the parent's (another
           reader's pipe, a socket, a locked file) stays open in the child. */
        if (p[1] != 3) {
            if (dup2(p[1], 3) < 0) _exit(1);
        }
        int null = open("/dev/null", O_RDWR);
        if (null < 0) _exit(1); /* libhdf5's messages must not reach the pipe or the terminal */
        dup2(null, 0);
        dup2(null, 1);
        dup2(null, 2);
        if (syscall(SYS_close_range, 4U, ~0U, 0U) != 0) {
            struct rlimit r;
            long top = getrlimit(RLIMIT_NOFILE, &r) == 0 && r.rlim_cur != RLIM_INFINITY && r.rlim_cur < 65536 ? (long)r.rlim_cur : 65536;
            for (long fd = 4; fd < top; fd++) close((int)fd);
        }
        if (memoryBudget > 0) {
            char text[64] = {0};
            unsigned long long pages = 0;
            int statm = open("/proc/self/statm", O_RDONLY);
            if (statm >= 0) {
                if (read(statm, text, sizeof text - 1) > 0) pages = strtoull(text, NULL, 10);
                close(statm);
            }
            unsigned long long mapped = pages * (unsigned long long)sysconf(_SC_PAGESIZE);
            if (pages > 0 && mapped < (1ULL << 40)) {
                struct rlimit r = {mapped + memoryBudget, mapped + memoryBudget};
                setrlimit(RLIMIT_AS, &r);
            }
        }
        convlens_h5_snapshot_write(path, image, size, roots, 3);
        _exit(0);
    }
    close(p[1]);
    *readFD = p[0];
    return pid;
}

#endif
