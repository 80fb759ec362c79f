/* Vectorised loops over contiguous float runs for the memory-bound kernels (batch norm, ReLU).
 * Written in C so the compiler vectorises them (Swift's generic SIMD min/max/select lower to
 * scalar code); reductions keep 16 partial sums. */
#ifndef DOLL_VEC_H
#define DOLL_VEC_H

#ifdef __cplusplus
extern "C" {
#endif

/** out[0] = Σ(x − shift), out[1] = Σ(x − shift)² over n values (partial sums in float, total in double). */
void doll_vec_shifted_sums(const float *x, long n, float shift, double out[2]);

/** y = x·scale + shift, then max(·, 0) when relu. */
void doll_vec_affine(const float *x, float *y, long n, float scale, float shift, int relu);

/** out[0] = Σg', out[1] = Σg'·(x − mean), with g' = g where mask > 0 (mask may be NULL: g' = g). */
void doll_vec_gradient_sums(const float *g, const float *x, const float *mask, long n, float mean, double out[2]);

/** d = k·g' + cx·x + c0, g' as above. */
void doll_vec_input_gradient(const float *g, const float *x, const float *mask, float *d, long n, float k, float cx, float c0);

/** y = max(x, 0). */
void doll_vec_relu(const float *x, float *y, long n);

/** d = g where x > 0, else 0. */
void doll_vec_relu_backward(const float *g, const float *x, float *d, long n);

#ifdef __cplusplus
}
#endif

#endif
