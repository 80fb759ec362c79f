#ifndef DOLL_SUPPORT_H
#define DOLL_SUPPORT_H
/* Small C helpers for libraries that report errors with longjmp (libjpeg, libpng). Swift never sees
 * the longjmp: every entry point here catches it with setjmp and returns an error code plus a
 * message instead. */
#include <stddef.h>
#include <stdint.h>

/* Decodes a JPEG held in memory to 8-bit grayscale (colour images are converted by libjpeg).
 * On success returns 0 and sets *out (malloc'ed, width*height bytes; free with doll_free),
 * *width, *height. On failure returns -1 and writes a message into err (errlen bytes).
 * Images with more than max_pixels pixels are rejected before any pixel buffer is allocated. */
int doll_jpeg_decode_gray(const uint8_t *data, size_t size, uint64_t max_pixels,
                          uint8_t **out, int *width, int *height, char *err, size_t errlen);

/* Encodes 8-bit grayscale (channels = 1) or RGB (channels = 3) pixels as a baseline JPEG with the
 * given quality (1-100). On success returns 0 and sets *out (malloc'ed; free with doll_free) and
 * *outsize. On failure returns -1 with a message in err. */
int doll_jpeg_encode(const uint8_t *pixels, int width, int height, int channels, int quality,
                     uint8_t **out, size_t *outsize, char *err, size_t errlen);

/* Decodes a PNG held in memory to raw samples, with no gamma or colour-space conversion (the
 * file's gAMA, sRGB, iCCP and cHRM chunks are ignored: a stored 128 reads as 128).
 * want_rgba = 0: one gray channel at the file's depth (8 or 16 bits; 1-, 2- and 4-bit gray and
 * palettes are expanded to 8), colour converted to luminance with Rec. 709 weights on the stored
 * values, alpha dropped. want_rgba = 1: four 8-bit channels (16-bit samples rounded to 8).
 * On success returns 0 and sets *out (malloc'ed, width*height*channels uint16 samples; free
 * with doll_free), *width, *height, *channels, *bit_depth. On failure returns -1 with a message in
 * err; -2 when the image has more than max_pixels pixels (*width and *height are then set). */
int doll_png_decode(const uint8_t *data, size_t size, uint64_t max_pixels, int want_rgba,
                    uint16_t **out, uint32_t *width, uint32_t *height, int *channels, int *bit_depth,
                    char *err, size_t errlen);

void doll_free(void *p);

#endif
