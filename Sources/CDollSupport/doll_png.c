/* Raw PNG decoding with libpng's low-level API (see doll_support.h). libpng reports errors by
 * longjmp; it is caught here with setjmp and never crosses into Swift. */
#include "doll_support.h"

#include <png.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    const uint8_t *data;
    size_t size, offset;
    char *err;
    size_t errlen;
} png_source;

static void on_error(png_structp png, png_const_charp msg) {
    png_source *src = (png_source *)png_get_error_ptr(png);
    snprintf(src->err, src->errlen, "%s", msg);
    png_longjmp(png, 1);
}

static void on_warning(png_structp png, png_const_charp msg) { (void)png; (void)msg; }

static void on_read(png_structp png, png_bytep dst, size_t n) {
    png_source *src = (png_source *)png_get_io_ptr(png);
    if (n > src->size - src->offset) png_error(png, "file is truncated");
    memcpy(dst, src->data + src->offset, n);
    src->offset += n;
}

int doll_png_decode(const uint8_t *data, size_t size, uint64_t max_pixels, int want_rgba,
                    uint16_t **out, uint32_t *width, uint32_t *height, int *channels, int *bit_depth,
                    char *err, size_t errlen) {
    png_source src = {data, size, 0, err, errlen};
    *out = NULL;
    if (errlen > 0) err[0] = 0;
    if (size < 8 || png_sig_cmp(data, 0, 8) != 0) {
        snprintf(err, errlen, "not a PNG signature");
        return -1;
    }
    png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &src, on_error, on_warning);
    if (!png) { snprintf(err, errlen, "out of memory"); return -1; }
    png_infop info = png_create_info_struct(png);
    /* Written after setjmp, read after a longjmp: volatile. */
    uint8_t *volatile pixels = NULL;
    png_bytep *volatile rows = NULL;
    uint16_t *volatile result = NULL;
    if (!info || setjmp(png_jmpbuf(png))) {
        free(pixels);
        free(rows);
        free(result);
        png_destroy_read_struct(&png, info ? &info : NULL, NULL);
        if (errlen > 0 && err[0] == 0) snprintf(err, errlen, "out of memory");
        return -1;
    }
    /* A small file must not make libpng allocate much: ancillary chunks are capped. */
    png_set_chunk_malloc_max(png, 8u << 20);
    png_set_chunk_cache_max(png, 1000);
    png_set_read_fn(png, &src, on_read);
    png_read_info(png, info);
    png_uint_32 w = 0, h = 0;
    int depth = 0, color = 0, interlace = 0;
    png_get_IHDR(png, info, &w, &h, &depth, &color, &interlace, NULL, NULL);
    *width = w;
    *height = h;
    if ((uint64_t)w * (uint64_t)h > max_pixels) {
        png_destroy_read_struct(&png, &info, NULL);
        snprintf(err, errlen, "more than the limit");
        return -2;
    }
    png_set_expand(png);                         /* palette → RGB, gray < 8 bits → 8, tRNS → alpha */
    if (want_rgba) {
        png_set_scale_16(png);
        png_set_gray_to_rgb(png);
        png_set_add_alpha(png, 0xFF, PNG_FILLER_AFTER);
    } else if (depth == 16) {
        png_set_swap(png);                       /* native little-endian 16-bit samples */
    }
    png_set_interlace_handling(png);
    png_read_update_info(png, info);
    int ch = png_get_channels(png, info);
    int bits = png_get_bit_depth(png, info);
    size_t rowbytes = png_get_rowbytes(png, info);
    pixels = malloc(rowbytes * h);
    rows = malloc(sizeof(png_bytep) * h);
    if (!pixels || !rows) png_error(png, "out of memory for the pixels");
    for (png_uint_32 y = 0; y < h; y++) rows[y] = pixels + rowbytes * y;
    png_read_image(png, rows);
    png_read_end(png, NULL);

    int out_ch = want_rgba ? 4 : 1;
    size_t n = (size_t)w * h;
    result = malloc(sizeof(uint16_t) * n * out_ch);
    if (!result) png_error(png, "out of memory for the samples");
    for (png_uint_32 y = 0; y < h; y++) {
        const uint8_t *row8 = rows[y];
        const uint16_t *row16 = (const uint16_t *)rows[y];
        for (png_uint_32 x = 0; x < w; x++) {
            uint16_t *dst = result + ((size_t)y * w + x) * out_ch;
            if (want_rgba) {
                for (int c = 0; c < 4; c++) dst[c] = row8[x * 4 + c];
                continue;
            }
            uint32_t s[4];
            for (int c = 0; c < ch; c++) s[c] = bits == 16 ? row16[x * ch + c] : row8[x * ch + c];
            if (ch >= 3) {
                /* Rec. 709 luma weights in 1/65536ths (sum 65536), rounded. */
                uint64_t y709 = (uint64_t)13933 * s[0] + (uint64_t)46871 * s[1] + (uint64_t)4732 * s[2];
                dst[0] = (uint16_t)((y709 + 32768) >> 16);
            } else {
                dst[0] = (uint16_t)s[0];
            }
        }
    }
    *channels = out_ch;
    *bit_depth = want_rgba ? 8 : bits;
    *out = result;
    free(pixels);
    free(rows);
    png_destroy_read_struct(&png, &info, NULL);
    return 0;
}
