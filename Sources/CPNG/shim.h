#include <png.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
/* Macros Swift cannot import (FACTS.md). */
static inline png_uint_32 convlens_png_format_rgba(void) { return PNG_FORMAT_RGBA; }
static inline png_uint_32 convlens_png_format_rgb(void) { return PNG_FORMAT_RGB; }
static inline png_uint_32 convlens_png_format_gray(void) { return PNG_FORMAT_GRAY; }
static inline png_uint_32 convlens_png_format_linear_rgb(void) { return PNG_FORMAT_LINEAR_RGB; }
static inline png_uint_32 convlens_png_format_flag_linear(void) { return PNG_FORMAT_FLAG_LINEAR; }
static inline png_uint_32 convlens_png_format_flag_color(void) { return PNG_FORMAT_FLAG_COLOR; }
static inline png_uint_32 convlens_png_format_flag_alpha(void) { return PNG_FORMAT_FLAG_ALPHA; }
static inline png_uint_32 convlens_png_format_flag_colormap(void) { return PNG_FORMAT_FLAG_COLORMAP; }
static inline int convlens_png_image_failed(png_imagep image) { return PNG_IMAGE_FAILED(*image); }

/* PNG encoding through libpng's full write API, which (unlike the simplified png_image API) sets
   the zlib level and the row filters. libpng reports errors by longjmp; the jump stays inside
   convlens_png_encode, so it never crosses a Swift frame. */
typedef struct {
    unsigned char *data;  /* malloc'ed; the caller frees it with free() */
    size_t size, capacity;
    char message[160];
} convlens_png_sink;

static inline void convlens_png_write_bytes(png_structp png, png_bytep bytes, size_t n) {
    convlens_png_sink *s = (convlens_png_sink *)png_get_io_ptr(png);
    if (n > SIZE_MAX - s->size) png_error(png, "PNG too large");
    if (s->size + n > s->capacity) {
        size_t cap = s->capacity ? s->capacity : 65536;
        while (cap < s->size + n) cap = cap > SIZE_MAX / 2 ? s->size + n : cap * 2;
        unsigned char *d = (unsigned char *)realloc(s->data, cap);
        if (!d) png_error(png, "out of memory");
        s->data = d;
        s->capacity = cap;
    }
    memcpy(s->data + s->size, bytes, n);
    s->size += n;
}

static inline void convlens_png_flush(png_structp png) { (void)png; }

static inline void convlens_png_fail(png_structp png, png_const_charp message) {
    convlens_png_sink *s = (convlens_png_sink *)png_get_error_ptr(png);
    strncpy(s->message, message ? message : "libpng error", sizeof s->message - 1);
    s->message[sizeof s->message - 1] = 0;
    png_longjmp(png, 1);
}

static inline void convlens_png_warn(png_structp png, png_const_charp message) { (void)png; (void)message; }

/* Encodes 8-bit gray (channels 1) or RGB (channels 3) rows, `width * channels` bytes each, at
   zlib `level` (0-9) with one row filter (0 none, 1 sub, 2 up, 3 average, 4 Paeth, 5 adaptive
   over all five). Returns 1 with the file in sink->data/size, or 0 with sink->message set. */
static inline int convlens_png_encode(const unsigned char *pixels, unsigned width, unsigned height, int channels,
                                      int level, int filter, convlens_png_sink *sink) {
    static const int filters[6] = {PNG_FILTER_NONE, PNG_FILTER_SUB, PNG_FILTER_UP, PNG_FILTER_AVG,
                                   PNG_FILTER_PAETH, PNG_ALL_FILTERS};
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, sink, convlens_png_fail, convlens_png_warn);
    if (!png) { strcpy(sink->message, "cannot create a PNG writer"); return 0; }
    png_infop info = png_create_info_struct(png);
    if (!info) { png_destroy_write_struct(&png, NULL); strcpy(sink->message, "cannot create a PNG writer"); return 0; }
    if (setjmp(png_jmpbuf(png))) {
        png_destroy_write_struct(&png, &info);
        return 0;
    }
    png_set_write_fn(png, sink, convlens_png_write_bytes, convlens_png_flush);
    png_set_IHDR(png, info, width, height, 8, channels == 3 ? PNG_COLOR_TYPE_RGB : PNG_COLOR_TYPE_GRAY,
                 PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_set_compression_level(png, level < 0 ? 0 : level > 9 ? 9 : level);
    png_set_filter(png, 0, filters[filter < 0 || filter > 5 ? 5 : filter]);
    png_write_info(png, info);
    size_t stride = (size_t)width * (size_t)channels;
    for (unsigned y = 0; y < height; y++) png_write_row(png, (png_const_bytep)(pixels + stride * y));
    png_write_end(png, NULL);
    png_destroy_write_struct(&png, &info);
    return 1;
}
