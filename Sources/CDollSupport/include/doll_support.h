#ifndef DOLL_SUPPORT_H
#define DOLL_SUPPORT_H
/* Small C helpers for libraries that report errors with longjmp (libjpeg). Swift never sees
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

void doll_free(void *p);

#endif
