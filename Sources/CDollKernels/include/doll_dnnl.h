/* oneDNN convolutions behind a small C API for the Swift engine.
 *
 * Every tensor crossing this boundary is a plain, contiguous float32 buffer: activations NCHW,
 * convolution weights [Cout, Cin, kh, kw], transposed-convolution weights [Cin, Cout, kh, kw]
 * (PyTorch layouts). Inside, each call reorders into the blocked layouts the chosen oneDNN kernel
 * wants and back. Primitives are built once per geometry and cached (thread-safe); no C++
 * exception crosses this API: a failure returns non-zero with a message in `err`.
 */
#ifndef DOLL_DNNL_H
#define DOLL_DNNL_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/** Geometry of one convolution (or transposed convolution), PyTorch conventions. */
typedef struct doll_conv_geometry {
    int transposed;     /* 0: conv2d, 1: conv_transpose2d */
    int n;              /* batch */
    int cin, h, w;      /* input channels and spatial size */
    int cout, oh, ow;   /* output channels and spatial size */
    int kh, kw;         /* kernel */
    int sh, sw;         /* stride */
    int ph, pw;         /* padding at the top/left */
    int dh, dw;         /* dilation (1 = none) */
    int bias;           /* forward adds a bias [cout]; backward-weights also returns its gradient */
    int relu;           /* forward applies ReLU after the bias (eval-only fusion) */
} doll_conv_geometry;

/** Forward: dst[n, cout, oh, ow] = conv(src[n, cin, h, w], weights) (+ bias) (then ReLU).
 *  `training` selects oneDNN's forward_training kind (a backward pass may follow). */
int doll_dnnl_conv_forward(const doll_conv_geometry *g, int training, const float *src, const float *weights,
                           const float *bias, float *dst, char *err, size_t errlen);

/** Backward: from diff_dst, computes diff_src (when non-NULL) and diff_weights and diff_bias
 *  (when non-NULL). diff_dst is reordered once for both. */
int doll_dnnl_conv_backward(const doll_conv_geometry *g, const float *src, const float *weights,
                            const float *diff_dst, float *diff_src, float *diff_weights, float *diff_bias,
                            char *err, size_t errlen);

/** Routes oneDNN's temporary buffers (reorders, scratchpads) through the caller's allocator. */
void doll_dnnl_set_allocator(void *(*alloc)(size_t bytes), void (*release)(void *ptr, size_t bytes));

/** 1 when oneDNN has an implementation for this geometry (building and caching its forward
 *  primitive); 0 otherwise. */
int doll_dnnl_supports(const doll_conv_geometry *g);

/** The implementation oneDNN chose for this geometry's forward pass (e.g. "jit:avx512_core"),
 *  or "" when unsupported. */
const char *doll_dnnl_impl(const doll_conv_geometry *g);

/** oneDNN version, "major.minor.patch". */
const char *doll_dnnl_version(void);

/** The instruction set oneDNN dispatches to on this CPU ("avx512_core", "avx2", …). */
const char *doll_dnnl_isa(void);


#ifdef __cplusplus
}
#endif

#endif
