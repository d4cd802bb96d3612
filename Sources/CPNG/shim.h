#include <png.h>
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
