// Vectorised loops (see include/doll_vec.h). Reductions use 16 independent partial sums per
// block, which the compiler keeps in vector registers; elementwise loops vectorise as written.
#include "doll_vec.h"

#define LANES 16

void doll_vec_shifted_sums(const float *x, long n, float shift, double out[2]) {
    float a[LANES] = {0}, b[LANES] = {0};
    long i = 0;
    for (; i + LANES <= n; i += LANES) {
        for (int j = 0; j < LANES; j++) {
            float d = x[i + j] - shift;
            a[j] += d;
            b[j] += d * d;
        }
    }
    double s1 = 0, s2 = 0;
    for (int j = 0; j < LANES; j++) { s1 += a[j]; s2 += b[j]; }
    for (; i < n; i++) {
        double d = (double)(x[i] - shift);
        s1 += d;
        s2 += d * d;
    }
    out[0] = s1;
    out[1] = s2;
}

void doll_vec_affine(const float *restrict x, float *restrict y, long n, float scale, float shift, int relu) {
    if (relu) {
        for (long i = 0; i < n; i++) {
            float v = x[i] * scale + shift;
            y[i] = v > 0 ? v : 0;
        }
    } else {
        for (long i = 0; i < n; i++) y[i] = x[i] * scale + shift;
    }
}

void doll_vec_gradient_sums(const float *g, const float *x, const float *mask, long n, float mean, double out[2]) {
    float a[LANES] = {0}, b[LANES] = {0};
    long i = 0;
    if (mask) {
        for (; i + LANES <= n; i += LANES) {
            for (int j = 0; j < LANES; j++) {
                float gi = g[i + j];   // loaded unconditionally, so the select vectorises
                float gv = mask[i + j] > 0 ? gi : 0.0f;
                a[j] += gv;
                b[j] += gv * (x[i + j] - mean);
            }
        }
    } else {
        for (; i + LANES <= n; i += LANES) {
            for (int j = 0; j < LANES; j++) {
                a[j] += g[i + j];
                b[j] += g[i + j] * (x[i + j] - mean);
            }
        }
    }
    double s1 = 0, s2 = 0;
    for (int j = 0; j < LANES; j++) { s1 += a[j]; s2 += b[j]; }
    for (; i < n; i++) {
        float gv = (!mask || mask[i] > 0) ? g[i] : 0;
        s1 += gv;
        s2 += (double)(gv * (x[i] - mean));
    }
    out[0] = s1;
    out[1] = s2;
}

void doll_vec_input_gradient(const float *restrict g, const float *restrict x, const float *restrict mask,
                             float *restrict d, long n, float k, float cx, float c0) {
    if (mask) {
        for (long i = 0; i < n; i++) {
            float gi = g[i];
            d[i] = k * (mask[i] > 0 ? gi : 0.0f) + cx * x[i] + c0;
        }
    } else {
        for (long i = 0; i < n; i++) d[i] = k * g[i] + cx * x[i] + c0;
    }
}

void doll_vec_relu(const float *restrict x, float *restrict y, long n) {
    for (long i = 0; i < n; i++) y[i] = x[i] > 0 ? x[i] : 0;
}

void doll_vec_relu_backward(const float *restrict g, const float *restrict x, float *restrict d, long n) {
    for (long i = 0; i < n; i++) {
        float gi = g[i];
        d[i] = x[i] > 0 ? gi : 0.0f;
    }
}
