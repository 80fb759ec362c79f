#include "doll_support.h"
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jpeglib.h>
#include <jerror.h>

struct doll_jpeg_error {
    struct jpeg_error_mgr mgr;
    jmp_buf jump;
    char message[JMSG_LENGTH_MAX];
};

static void doll_jpeg_error_exit(j_common_ptr cinfo) {
    struct doll_jpeg_error *e = (struct doll_jpeg_error *)cinfo->err;
    (*cinfo->err->format_message)(cinfo, e->message);
    longjmp(e->jump, 1);
}

/* Warnings (e.g. premature end of data) are turned into errors: a truncated file must fail. */
static void doll_jpeg_emit_message(j_common_ptr cinfo, int level) {
    if (level < 0) {
        struct doll_jpeg_error *e = (struct doll_jpeg_error *)cinfo->err;
        (*cinfo->err->format_message)(cinfo, e->message);
        longjmp(e->jump, 1);
    }
}

static void copy_message(char *err, size_t errlen, const char *msg) {
    if (err && errlen) { strncpy(err, msg, errlen - 1); err[errlen - 1] = 0; }
}

int doll_jpeg_decode_gray(const uint8_t *data, size_t size, uint64_t max_pixels,
                          uint8_t **out, int *width, int *height, char *err, size_t errlen) {
    struct jpeg_decompress_struct cinfo;
    struct doll_jpeg_error jerr;
    uint8_t *volatile pixels = NULL;
    *out = NULL;
    memset(&cinfo, 0, sizeof cinfo);
    cinfo.err = jpeg_std_error(&jerr.mgr);
    jerr.mgr.error_exit = doll_jpeg_error_exit;
    jerr.mgr.emit_message = doll_jpeg_emit_message;
    jerr.message[0] = 0;
    if (setjmp(jerr.jump)) {
        copy_message(err, errlen, jerr.message[0] ? jerr.message : "corrupt JPEG data");
        jpeg_destroy_decompress(&cinfo);
        free(pixels);
        return -1;
    }
    jpeg_create_decompress(&cinfo);
    jpeg_mem_src(&cinfo, data, (unsigned long)size);
    jpeg_read_header(&cinfo, TRUE);
    if ((uint64_t)cinfo.image_width * (uint64_t)cinfo.image_height > max_pixels) {
        snprintf(err, errlen, "JPEG is %ux%u pixels, more than the limit of %llu",
                 cinfo.image_width, cinfo.image_height, (unsigned long long)max_pixels);
        jpeg_destroy_decompress(&cinfo);
        return -1;
    }
    cinfo.out_color_space = JCS_GRAYSCALE;
    jpeg_start_decompress(&cinfo);
    size_t stride = (size_t)cinfo.output_width * (size_t)cinfo.output_components;
    pixels = malloc(stride * cinfo.output_height);
    if (!pixels) {
        copy_message(err, errlen, "out of memory decoding JPEG");
        jpeg_destroy_decompress(&cinfo);
        return -1;
    }
    while (cinfo.output_scanline < cinfo.output_height) {
        JSAMPROW row = pixels + (size_t)cinfo.output_scanline * stride;
        jpeg_read_scanlines(&cinfo, &row, 1);
    }
    jpeg_finish_decompress(&cinfo);
    *width = (int)cinfo.output_width;
    *height = (int)cinfo.output_height;
    jpeg_destroy_decompress(&cinfo);
    *out = pixels;
    return 0;
}

int doll_jpeg_encode(const uint8_t *pixels, int width, int height, int channels, int quality,
                     uint8_t **out, size_t *outsize, char *err, size_t errlen) {
    struct jpeg_compress_struct cinfo;
    struct doll_jpeg_error jerr;
    unsigned char *volatile buffer = NULL;
    unsigned long size = 0;
    *out = NULL;
    if (width <= 0 || height <= 0 || (channels != 1 && channels != 3)) {
        copy_message(err, errlen, "JPEG encode needs positive size and 1 or 3 channels");
        return -1;
    }
    memset(&cinfo, 0, sizeof cinfo);
    cinfo.err = jpeg_std_error(&jerr.mgr);
    jerr.mgr.error_exit = doll_jpeg_error_exit;
    jerr.message[0] = 0;
    if (setjmp(jerr.jump)) {
        copy_message(err, errlen, jerr.message[0] ? jerr.message : "JPEG encoding failed");
        jpeg_destroy_compress(&cinfo);
        free(buffer);
        return -1;
    }
    jpeg_create_compress(&cinfo);
    unsigned char *buf = NULL;
    jpeg_mem_dest(&cinfo, &buf, &size);
    cinfo.image_width = (JDIMENSION)width;
    cinfo.image_height = (JDIMENSION)height;
    cinfo.input_components = channels;
    cinfo.in_color_space = channels == 1 ? JCS_GRAYSCALE : JCS_RGB;
    jpeg_set_defaults(&cinfo);
    jpeg_set_quality(&cinfo, quality < 1 ? 1 : (quality > 100 ? 100 : quality), TRUE);
    jpeg_start_compress(&cinfo, TRUE);
    while (cinfo.next_scanline < cinfo.image_height) {
        JSAMPROW row = (JSAMPROW)(pixels + (size_t)cinfo.next_scanline * (size_t)width * (size_t)channels);
        jpeg_write_scanlines(&cinfo, &row, 1);
    }
    jpeg_finish_compress(&cinfo);
    buffer = buf;
    jpeg_destroy_compress(&cinfo);
    *out = buffer;
    *outsize = size;
    return 0;
}

void doll_free(void *p) { free(p); }
