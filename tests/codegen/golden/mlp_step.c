#include <math.h>
#include <stddef.h>

#ifndef DLGRAD_KERNEL
#if defined(__GNUC__)
#define DLGRAD_KERNEL static __attribute__((noinline))
#else
#define DLGRAD_KERNEL static
#endif
#endif

/* Vector math. Built by gcc for x86-64 with glibc >= 2.35 and DLGRAD_VECTOR_MATH defined, e.g.
     cc -O3 -march=native -fno-math-errno -fopenmp-simd -fno-builtin-sin -fno-builtin-cos
        -fno-builtin-sinf -fno-builtin-cosf -DDLGRAD_VECTOR_MATH ... -lmvec -lm
   loops calling these functions, and sums and products over them, are vectorised with
   glibc's libmvec (within 4 ulp of the scalar functions, the same special values).
   Otherwise this block declares nothing. */
#if defined(DLGRAD_VECTOR_MATH) && defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__)
#define DLGRAD_SIMD_MATH __attribute__((__simd__("notinbranch"), __const__, __nothrow__))
DLGRAD_SIMD_MATH float expf(float);
DLGRAD_SIMD_MATH float logf(float);
DLGRAD_SIMD_MATH double pow(double, double);
#endif

#if defined(_OPENMP) && defined(DLGRAD_NUM_THREADS)
#define DLGRAD_PARALLEL_ROWS _Pragma("omp parallel for schedule(static) num_threads(DLGRAD_NUM_THREADS)")
#else
#define DLGRAD_PARALLEL_ROWS
#endif
/* dlgrad helpers: numerically stable forms and derivative conventions. */
static inline double mlp_step_dl_to_float32(double x) { volatile float f = (float)x; return f; }
static inline float mlp_step_dl_reluf(float x) { return x > 0 ? x : (x != x ? x : 0); }
static inline float mlp_step_dl_stepf(float x) { return x > 0 ? 1 : 0; }
static inline float mlp_step_dl_maxf(float a, float b) { return a > b ? a : (b > a ? b : (a != a ? a : b)); }

/* kernel 0: matmul over [128, 128]: matmul, add, relu */
DLGRAD_KERNEL void mlp_step_k0(const float *restrict out0, const float *restrict in4, const float *restrict out1, float *restrict buf1, float *restrict buf12) {
    const float *restrict A = out0 + (0);
    const float *restrict B = in4 + (0);
    float *restrict C = buf1 + (0);
    DLGRAD_PARALLEL_ROWS
    for (ptrdiff_t i = 0; i < 128; i += 8) {
        for (ptrdiff_t j0 = 0; j0 < 128; j0 += 16) {
            float acc0[16] = {0}, acc1[16] = {0}, acc2[16] = {0}, acc3[16] = {0}, acc4[16] = {0}, acc5[16] = {0}, acc6[16] = {0}, acc7[16] = {0};
            for (ptrdiff_t kk = 0; kk < 784; ++kk) {
                const float a0 = A[(i + 0)*784 + kk*1];
                const float a1 = A[(i + 1)*784 + kk*1];
                const float a2 = A[(i + 2)*784 + kk*1];
                const float a3 = A[(i + 3)*784 + kk*1];
                const float a4 = A[(i + 4)*784 + kk*1];
                const float a5 = A[(i + 5)*784 + kk*1];
                const float a6 = A[(i + 6)*784 + kk*1];
                const float a7 = A[(i + 7)*784 + kk*1];
                const float *restrict b = B + kk*128 + j0;
                for (ptrdiff_t j = 0; j < 16; ++j) {
                    const float bj = b[j];
                    acc0[j] += a0 * bj;
                    acc1[j] += a1 * bj;
                    acc2[j] += a2 * bj;
                    acc3[j] += a3 * bj;
                    acc4[j] += a4 * bj;
                    acc5[j] += a5 * bj;
                    acc6[j] += a6 * bj;
                    acc7[j] += a7 * bj;
                }
            }
            for (ptrdiff_t j = 0; j < 16; ++j) {
                C[(i + 0)*128 + j0 + j] = acc0[j];
                C[(i + 1)*128 + j0 + j] = acc1[j];
                C[(i + 2)*128 + j0 + j] = acc2[j];
                C[(i + 3)*128 + j0 + j] = acc3[j];
                C[(i + 4)*128 + j0 + j] = acc4[j];
                C[(i + 5)*128 + j0 + j] = acc5[j];
                C[(i + 6)*128 + j0 + j] = acc6[j];
                C[(i + 7)*128 + j0 + j] = acc7[j];
            }
        }
        for (ptrdiff_t r = 0; r < 8; ++r) {
            for (ptrdiff_t j = 0; j < 128; ++j) {
                const ptrdiff_t ei = i + r, ej = j;
                const float v0 = C[(i + r)*128 + j];
                const float v1 = out1[ei];
                buf12[128*ei + ej] = mlp_step_dl_reluf(v0 + v1);
            }
        }
    }
}

/* kernel 1: matmul over [10, 128]: matmul */
DLGRAD_KERNEL void mlp_step_k1(const float *restrict out2, const float *restrict buf12, float *restrict buf2) {
    const float *restrict A = out2 + (0);
    const float *restrict B = buf12 + (0);
    float *restrict C = buf2 + (0);
    for (ptrdiff_t i = 0; i < 8; i += 8) {
        for (ptrdiff_t j0 = 0; j0 < 128; j0 += 16) {
            float acc0[16] = {0}, acc1[16] = {0}, acc2[16] = {0}, acc3[16] = {0}, acc4[16] = {0}, acc5[16] = {0}, acc6[16] = {0}, acc7[16] = {0};
            for (ptrdiff_t kk = 0; kk < 128; ++kk) {
                const float a0 = A[(i + 0)*128 + kk*1];
                const float a1 = A[(i + 1)*128 + kk*1];
                const float a2 = A[(i + 2)*128 + kk*1];
                const float a3 = A[(i + 3)*128 + kk*1];
                const float a4 = A[(i + 4)*128 + kk*1];
                const float a5 = A[(i + 5)*128 + kk*1];
                const float a6 = A[(i + 6)*128 + kk*1];
                const float a7 = A[(i + 7)*128 + kk*1];
                const float *restrict b = B + kk*128 + j0;
                for (ptrdiff_t j = 0; j < 16; ++j) {
                    const float bj = b[j];
                    acc0[j] += a0 * bj;
                    acc1[j] += a1 * bj;
                    acc2[j] += a2 * bj;
                    acc3[j] += a3 * bj;
                    acc4[j] += a4 * bj;
                    acc5[j] += a5 * bj;
                    acc6[j] += a6 * bj;
                    acc7[j] += a7 * bj;
                }
            }
            for (ptrdiff_t j = 0; j < 16; ++j) {
                C[(i + 0)*128 + j0 + j] = acc0[j];
                C[(i + 1)*128 + j0 + j] = acc1[j];
                C[(i + 2)*128 + j0 + j] = acc2[j];
                C[(i + 3)*128 + j0 + j] = acc3[j];
                C[(i + 4)*128 + j0 + j] = acc4[j];
                C[(i + 5)*128 + j0 + j] = acc5[j];
                C[(i + 6)*128 + j0 + j] = acc6[j];
                C[(i + 7)*128 + j0 + j] = acc7[j];
            }
        }
    }
    for (ptrdiff_t i = 8; i < 10; ++i) {
        for (ptrdiff_t j = 0; j < 128; ++j) C[i*128 + j] = 0;
        for (ptrdiff_t kk = 0; kk < 128; ++kk) {
            const float a = A[i*128 + kk*1];
            for (ptrdiff_t j = 0; j < 128; ++j) C[i*128 + j] += a * B[kk*128 + j*1];
        }
    }
}

/* kernel 2: reduce over [10, 128]: add, max */
DLGRAD_KERNEL void mlp_step_k2(const float *restrict buf2, const float *restrict out3, float *restrict buf3) {
    for (ptrdiff_t o = 0; o < 128; ++o) {
        buf3[o] = -INFINITY;
    }
    for (ptrdiff_t i0 = 0; i0 < 10; ++i0) {
        for (ptrdiff_t i1 = 0; i1 < 128; ++i1) {
            const float v0 = buf2[128*i0 + i1];
            const float v1 = out3[i0];
            buf3[i1] = mlp_step_dl_maxf(buf3[i1], v0 + v1);
        }
    }
}

/* kernel 3: reduce over [10, 128]: mul, sum */
DLGRAD_KERNEL void mlp_step_k3(const float *restrict in5, float *restrict buf0) {
    for (ptrdiff_t o = 0; o < 128; ++o) {
        buf0[o] = 0;
    }
    for (ptrdiff_t i0 = 0; i0 < 10; ++i0) {
        for (ptrdiff_t i1 = 0; i1 < 128; ++i1) {
            const float v0 = in5[128*i0 + i1];
            buf0[i1] += v0*0.0078125F;
        }
    }
}

/* kernel 4: elementwise over [10, 128]: add, sub, exp */
DLGRAD_KERNEL void mlp_step_k4(const float *restrict buf2, const float *restrict out3, const float *restrict buf3, float *restrict buf13) {
    for (ptrdiff_t i0 = 0; i0 < 10; ++i0) {
        for (ptrdiff_t i1 = 0; i1 < 128; ++i1) {
            const float v0 = buf2[128*i0 + i1];
            const float v1 = out3[i0];
            const float v2 = buf3[i1];
            buf13[128*i0 + i1] = expf(v0 + v1 - v2);
        }
    }
}

/* kernel 5: reduce over [10, 128]: sum */
DLGRAD_KERNEL void mlp_step_k5(const float *restrict buf13, float *restrict buf4) {
    for (ptrdiff_t o = 0; o < 128; ++o) {
        buf4[o] = 0;
    }
    for (ptrdiff_t i0 = 0; i0 < 10; ++i0) {
        for (ptrdiff_t i1 = 0; i1 < 128; ++i1) {
            const float v0 = buf13[128*i0 + i1];
            buf4[i1] += v0;
        }
    }
}

/* kernel 6: elementwise over [1, 128]: partial(log), mul, log */
DLGRAD_KERNEL void mlp_step_k6(const float *restrict buf0, const float *restrict buf4, float *restrict buf14, float *restrict buf17) {
    for (ptrdiff_t i0 = 0; i0 < 128; ++i0) {
        const float v0 = buf0[i0];
        const float v1 = buf4[i0];
        buf14[i0] = v0*(1.0F/v1);
        buf17[i0] = logf(v1);
    }
}

/* kernel 7: reduce over [10, 128]: add, 2 sub, mul, sum */
DLGRAD_KERNEL void mlp_step_k7(const float *restrict in5, const float *restrict buf2, const float *restrict out3, const float *restrict buf3, const float *restrict buf17, float *restrict buf10) {
    double acc = 0;
    for (ptrdiff_t i0 = 0; i0 < 10; ++i0) {
        for (ptrdiff_t i1 = 0; i1 < 128; ++i1) {
            const float v0 = in5[128*i0 + i1];
            const float v1 = buf2[128*i0 + i1];
            const float v2 = out3[i0];
            const float v3 = buf3[i1];
            const float v4 = buf17[i1];
            acc += v0*(v1 + v2 - v3 - v4);
        }
    }
    buf10[0] = (float)acc;
}

/* kernel 8: elementwise over []: 2 pow, 2 sub, sqrt, mul, 2 div, cast, neg */
DLGRAD_KERNEL void mlp_step_k8(const double *restrict in14, const float *restrict buf10, float *restrict buf11, float *restrict out12) {
    const double v0 = in14[0];
    const float v1 = buf10[0];
    buf11[0] = mlp_step_dl_to_float32(0.001*sqrt(1.0 - pow(0.999, v0))/(1.0 - pow(0.90000000000000002, v0)));
    out12[0] = -v1/128.0;
}

/* kernel 9: elementwise over [10, 128]: 2 mul, add (through broadcast_to) */
DLGRAD_KERNEL void mlp_step_k9(const float *restrict in5, const float *restrict buf14, const float *restrict buf13, float *restrict buf15) {
    for (ptrdiff_t i0 = 0; i0 < 10; ++i0) {
        for (ptrdiff_t i1 = 0; i1 < 128; ++i1) {
            const float v0 = in5[128*i0 + i1];
            const float v1 = buf14[i1];
            const float v2 = buf13[128*i0 + i1];
            buf15[128*i0 + i1] = -0.0078125F*v0 + v1*v2;
        }
    }
}

/* kernel 10: matmul over [128, 128]: add, partial(relu), matmul, mul (through permute) */
DLGRAD_KERNEL void mlp_step_k10(const float *restrict out2, const float *restrict buf15, const float *restrict buf1, const float *restrict out1, float *restrict buf5, float *restrict buf16) {
    const float *restrict A = out2 + (0);
    const float *restrict B = buf15 + (0);
    float *restrict C = buf5 + (0);
    for (ptrdiff_t i = 0; i < 128; i += 8) {
        for (ptrdiff_t j0 = 0; j0 < 128; j0 += 16) {
            float acc0[16] = {0}, acc1[16] = {0}, acc2[16] = {0}, acc3[16] = {0}, acc4[16] = {0}, acc5[16] = {0}, acc6[16] = {0}, acc7[16] = {0};
            for (ptrdiff_t kk = 0; kk < 10; ++kk) {
                const float a0 = A[(i + 0)*1 + kk*128];
                const float a1 = A[(i + 1)*1 + kk*128];
                const float a2 = A[(i + 2)*1 + kk*128];
                const float a3 = A[(i + 3)*1 + kk*128];
                const float a4 = A[(i + 4)*1 + kk*128];
                const float a5 = A[(i + 5)*1 + kk*128];
                const float a6 = A[(i + 6)*1 + kk*128];
                const float a7 = A[(i + 7)*1 + kk*128];
                const float *restrict b = B + kk*128 + j0;
                for (ptrdiff_t j = 0; j < 16; ++j) {
                    const float bj = b[j];
                    acc0[j] += a0 * bj;
                    acc1[j] += a1 * bj;
                    acc2[j] += a2 * bj;
                    acc3[j] += a3 * bj;
                    acc4[j] += a4 * bj;
                    acc5[j] += a5 * bj;
                    acc6[j] += a6 * bj;
                    acc7[j] += a7 * bj;
                }
            }
            for (ptrdiff_t j = 0; j < 16; ++j) {
                C[(i + 0)*128 + j0 + j] = acc0[j];
                C[(i + 1)*128 + j0 + j] = acc1[j];
                C[(i + 2)*128 + j0 + j] = acc2[j];
                C[(i + 3)*128 + j0 + j] = acc3[j];
                C[(i + 4)*128 + j0 + j] = acc4[j];
                C[(i + 5)*128 + j0 + j] = acc5[j];
                C[(i + 6)*128 + j0 + j] = acc6[j];
                C[(i + 7)*128 + j0 + j] = acc7[j];
            }
        }
        for (ptrdiff_t r = 0; r < 8; ++r) {
            for (ptrdiff_t j = 0; j < 128; ++j) {
                const ptrdiff_t ei = i + r, ej = j;
                const float v0 = C[(i + r)*128 + j];
                const float v1 = buf1[128*ei + ej];
                const float v2 = out1[ei];
                buf16[128*ei + ej] = v0*mlp_step_dl_stepf(v1 + v2);
            }
        }
    }
}

/* kernel 11: matmul over [128, 784]: matmul (through permute) */
DLGRAD_KERNEL void mlp_step_k11(const float *restrict buf16, const float *restrict in4, float *restrict buf6) {
    const float *restrict A = buf16 + (0);
    const float *restrict B = in4 + (0);
    float *restrict C = buf6 + (0);
    DLGRAD_PARALLEL_ROWS
    for (ptrdiff_t j0 = 0; j0 < 784; j0 += 16) {
        float panel[2048];
        const ptrdiff_t k0 = 0, kn = 128;
        for (ptrdiff_t kk = 0; kk < kn; ++kk) {
            const float *restrict src = B + (k0 + kk)*1 + j0*128;
            for (ptrdiff_t j = 0; j < 16; ++j) panel[kk*16 + j] = src[j*128];
        }
        for (ptrdiff_t i = 0; i < 128; i += 8) {
            float acc0[16] = {0}, acc1[16] = {0}, acc2[16] = {0}, acc3[16] = {0}, acc4[16] = {0}, acc5[16] = {0}, acc6[16] = {0}, acc7[16] = {0};
            for (ptrdiff_t kk = 0; kk < kn; ++kk) {
                const float a0 = A[(i + 0)*128 + (k0 + kk)*1];
                const float a1 = A[(i + 1)*128 + (k0 + kk)*1];
                const float a2 = A[(i + 2)*128 + (k0 + kk)*1];
                const float a3 = A[(i + 3)*128 + (k0 + kk)*1];
                const float a4 = A[(i + 4)*128 + (k0 + kk)*1];
                const float a5 = A[(i + 5)*128 + (k0 + kk)*1];
                const float a6 = A[(i + 6)*128 + (k0 + kk)*1];
                const float a7 = A[(i + 7)*128 + (k0 + kk)*1];
                const float *restrict b = panel + kk*16;
                for (ptrdiff_t j = 0; j < 16; ++j) {
                    const float bj = b[j];
                    acc0[j] += a0 * bj;
                    acc1[j] += a1 * bj;
                    acc2[j] += a2 * bj;
                    acc3[j] += a3 * bj;
                    acc4[j] += a4 * bj;
                    acc5[j] += a5 * bj;
                    acc6[j] += a6 * bj;
                    acc7[j] += a7 * bj;
                }
            }
            for (ptrdiff_t j = 0; j < 16; ++j) {
                C[(i + 0)*784 + j0 + j] = acc0[j];
                C[(i + 1)*784 + j0 + j] = acc1[j];
                C[(i + 2)*784 + j0 + j] = acc2[j];
                C[(i + 3)*784 + j0 + j] = acc3[j];
                C[(i + 4)*784 + j0 + j] = acc4[j];
                C[(i + 5)*784 + j0 + j] = acc5[j];
                C[(i + 6)*784 + j0 + j] = acc6[j];
                C[(i + 7)*784 + j0 + j] = acc7[j];
            }
        }
    }
}

/* kernel 12: elementwise over [128, 784]: 6 mul, 3 add, sqrt, div, sub */
DLGRAD_KERNEL void mlp_step_k12(const float *restrict buf6, const float *restrict buf11, float *restrict out4, float *restrict out8, float *restrict out0) {
    const float v4 = buf11[0];
    for (ptrdiff_t i0 = 0; i0 < 100352; ++i0) {
        const float v0 = out4[i0];
        const float v1 = buf6[i0];
        const float v2 = out8[i0];
        const float v3 = out0[i0];
        const float t0 = 0.899999976F*v0 + 0.100000024F*v1;
        const float t1 = 0.999000013F*v2 + 0.000999987125F*(v1*v1);
        out4[i0] = t0;
        out8[i0] = t1;
        out0[i0] = v3 - v4*t0/(sqrtf(t1) + 9.99999994e-9F);
    }
}

/* kernel 13: reduce over [128, 128]: sum */
DLGRAD_KERNEL void mlp_step_k13(const float *restrict buf16, float *restrict buf7) {
    for (ptrdiff_t i0 = 0; i0 < 128; ++i0) {
        double acc = 0;
        double lanes[8] = {0, 0, 0, 0, 0, 0, 0, 0};
        for (ptrdiff_t lb = 0; lb < 16; ++lb) {
            for (ptrdiff_t l = 0; l < 8; ++l) {
                const ptrdiff_t i1 = lb*8 + l;
                const float v0 = buf16[128*i0 + i1];
                lanes[l] += v0;
            }
        }
        acc += (((lanes[0] + lanes[1]) + (lanes[2] + lanes[3])) + ((lanes[4] + lanes[5]) + (lanes[6] + lanes[7])));
        buf7[i0] = (float)acc;
    }
}

/* kernel 14: elementwise over [128, 1]: 6 mul, 3 add, sqrt, div, sub */
DLGRAD_KERNEL void mlp_step_k14(const float *restrict buf7, const float *restrict buf11, float *restrict out5, float *restrict out9, float *restrict out1) {
    const float v4 = buf11[0];
    for (ptrdiff_t i0 = 0; i0 < 128; ++i0) {
        const float v0 = out5[i0];
        const float v1 = buf7[i0];
        const float v2 = out9[i0];
        const float v3 = out1[i0];
        const float t0 = 0.899999976F*v0 + 0.100000024F*v1;
        const float t1 = 0.999000013F*v2 + 0.000999987125F*(v1*v1);
        out5[i0] = t0;
        out9[i0] = t1;
        out1[i0] = v3 - v4*t0/(sqrtf(t1) + 9.99999994e-9F);
    }
}

/* kernel 15: matmul over [10, 128]: matmul (through permute) */
DLGRAD_KERNEL void mlp_step_k15(const float *restrict buf15, const float *restrict buf12, float *restrict buf8) {
    const float *restrict A = buf15 + (0);
    const float *restrict B = buf12 + (0);
    float *restrict C = buf8 + (0);
    for (ptrdiff_t j0 = 0; j0 < 128; j0 += 16) {
        float panel[2048];
        const ptrdiff_t k0 = 0, kn = 128;
        for (ptrdiff_t kk = 0; kk < kn; ++kk) {
            const float *restrict src = B + (k0 + kk)*1 + j0*128;
            for (ptrdiff_t j = 0; j < 16; ++j) panel[kk*16 + j] = src[j*128];
        }
        for (ptrdiff_t i = 0; i < 8; i += 8) {
            float acc0[16] = {0}, acc1[16] = {0}, acc2[16] = {0}, acc3[16] = {0}, acc4[16] = {0}, acc5[16] = {0}, acc6[16] = {0}, acc7[16] = {0};
            for (ptrdiff_t kk = 0; kk < kn; ++kk) {
                const float a0 = A[(i + 0)*128 + (k0 + kk)*1];
                const float a1 = A[(i + 1)*128 + (k0 + kk)*1];
                const float a2 = A[(i + 2)*128 + (k0 + kk)*1];
                const float a3 = A[(i + 3)*128 + (k0 + kk)*1];
                const float a4 = A[(i + 4)*128 + (k0 + kk)*1];
                const float a5 = A[(i + 5)*128 + (k0 + kk)*1];
                const float a6 = A[(i + 6)*128 + (k0 + kk)*1];
                const float a7 = A[(i + 7)*128 + (k0 + kk)*1];
                const float *restrict b = panel + kk*16;
                for (ptrdiff_t j = 0; j < 16; ++j) {
                    const float bj = b[j];
                    acc0[j] += a0 * bj;
                    acc1[j] += a1 * bj;
                    acc2[j] += a2 * bj;
                    acc3[j] += a3 * bj;
                    acc4[j] += a4 * bj;
                    acc5[j] += a5 * bj;
                    acc6[j] += a6 * bj;
                    acc7[j] += a7 * bj;
                }
            }
            for (ptrdiff_t j = 0; j < 16; ++j) {
                C[(i + 0)*128 + j0 + j] = acc0[j];
                C[(i + 1)*128 + j0 + j] = acc1[j];
                C[(i + 2)*128 + j0 + j] = acc2[j];
                C[(i + 3)*128 + j0 + j] = acc3[j];
                C[(i + 4)*128 + j0 + j] = acc4[j];
                C[(i + 5)*128 + j0 + j] = acc5[j];
                C[(i + 6)*128 + j0 + j] = acc6[j];
                C[(i + 7)*128 + j0 + j] = acc7[j];
            }
        }
        {
            float acc0[16] = {0}, acc1[16] = {0}, acc2[16] = {0}, acc3[16] = {0}, acc4[16] = {0}, acc5[16] = {0}, acc6[16] = {0}, acc7[16] = {0};
            for (ptrdiff_t kk = 0; kk < kn; ++kk) {
                const float a0 = A[(2 + 0)*128 + (k0 + kk)*1];
                const float a1 = A[(2 + 1)*128 + (k0 + kk)*1];
                const float a2 = A[(2 + 2)*128 + (k0 + kk)*1];
                const float a3 = A[(2 + 3)*128 + (k0 + kk)*1];
                const float a4 = A[(2 + 4)*128 + (k0 + kk)*1];
                const float a5 = A[(2 + 5)*128 + (k0 + kk)*1];
                const float a6 = A[(2 + 6)*128 + (k0 + kk)*1];
                const float a7 = A[(2 + 7)*128 + (k0 + kk)*1];
                const float *restrict b = panel + kk*16;
                for (ptrdiff_t j = 0; j < 16; ++j) {
                    const float bj = b[j];
                    acc0[j] += a0 * bj;
                    acc1[j] += a1 * bj;
                    acc2[j] += a2 * bj;
                    acc3[j] += a3 * bj;
                    acc4[j] += a4 * bj;
                    acc5[j] += a5 * bj;
                    acc6[j] += a6 * bj;
                    acc7[j] += a7 * bj;
                }
            }
            for (ptrdiff_t j = 0; j < 16; ++j) {
                C[(2 + 6)*128 + j0 + j] = acc6[j];
                C[(2 + 7)*128 + j0 + j] = acc7[j];
            }
        }
    }
}

/* kernel 16: elementwise over [10, 128]: 6 mul, 3 add, sqrt, div, sub */
DLGRAD_KERNEL void mlp_step_k16(const float *restrict buf8, const float *restrict buf11, float *restrict out6, float *restrict out10, float *restrict out2) {
    const float v4 = buf11[0];
    for (ptrdiff_t i0 = 0; i0 < 1280; ++i0) {
        const float v0 = out6[i0];
        const float v1 = buf8[i0];
        const float v2 = out10[i0];
        const float v3 = out2[i0];
        const float t0 = 0.899999976F*v0 + 0.100000024F*v1;
        const float t1 = 0.999000013F*v2 + 0.000999987125F*(v1*v1);
        out6[i0] = t0;
        out10[i0] = t1;
        out2[i0] = v3 - v4*t0/(sqrtf(t1) + 9.99999994e-9F);
    }
}

/* kernel 17: reduce over [10, 128]: sum */
DLGRAD_KERNEL void mlp_step_k17(const float *restrict buf15, float *restrict buf9) {
    for (ptrdiff_t i0 = 0; i0 < 10; ++i0) {
        double acc = 0;
        double lanes[8] = {0, 0, 0, 0, 0, 0, 0, 0};
        for (ptrdiff_t lb = 0; lb < 16; ++lb) {
            for (ptrdiff_t l = 0; l < 8; ++l) {
                const ptrdiff_t i1 = lb*8 + l;
                const float v0 = buf15[128*i0 + i1];
                lanes[l] += v0;
            }
        }
        acc += (((lanes[0] + lanes[1]) + (lanes[2] + lanes[3])) + ((lanes[4] + lanes[5]) + (lanes[6] + lanes[7])));
        buf9[i0] = (float)acc;
    }
}

/* kernel 18: elementwise over [10, 1]: 6 mul, 3 add, sqrt, div, sub */
DLGRAD_KERNEL void mlp_step_k18(const float *restrict buf9, const float *restrict buf11, float *restrict out7, float *restrict out11, float *restrict out3) {
    const float v4 = buf11[0];
    for (ptrdiff_t i0 = 0; i0 < 10; ++i0) {
        const float v0 = out7[i0];
        const float v1 = buf9[i0];
        const float v2 = out11[i0];
        const float v3 = out3[i0];
        const float t0 = 0.899999976F*v0 + 0.100000024F*v1;
        const float t1 = 0.999000013F*v2 + 0.000999987125F*(v1*v1);
        out7[i0] = t0;
        out11[i0] = t1;
        out3[i0] = v3 - v4*t0/(sqrtf(t1) + 9.99999994e-9F);
    }
}

/* Runs the kernels in order; returns 0. */
int mlp_step(const float *in0, const float *in1, const float *in2, const float *in3, const float *in4, const float *in5, const float *in6, const float *in7, const float *in8, const float *in9, const float *in10, const float *in11, const float *in12, const float *in13, const double *in14, float *out0, float *out1, float *out2, float *out3, float *out4, float *out5, float *out6, float *out7, float *out8, float *out9, float *out10, float *out11, float *out12, void *work) {
    char *const ws = (char *)work;
    float *const buf0 = (float *)(ws + 136704);
    float *const buf1 = (float *)(ws + 0);
    float *const buf2 = (float *)(ws + 131072);
    float *const buf3 = (float *)(ws + 136192);
    float *const buf4 = (float *)(ws + 142336);
    float *const buf5 = (float *)(ws + 143872);
    float *const buf6 = (float *)(ws + 274944);
    float *const buf7 = (float *)(ws + 142336);
    float *const buf8 = (float *)(ws + 137216);
    float *const buf9 = (float *)(ws + 136704);
    float *const buf10 = (float *)(ws + 136704);
    float *const buf11 = (float *)(ws + 136768);
    float *const buf12 = (float *)(ws + 65536);
    float *const buf13 = (float *)(ws + 137216);
    float *const buf14 = (float *)(ws + 142848);
    float *const buf15 = (float *)(ws + 131072);
    float *const buf16 = (float *)(ws + 209408);
    float *const buf17 = (float *)(ws + 143360);
    (void)in0; (void)in1; (void)in2; (void)in3; (void)in6; (void)in7; (void)in8; (void)in9; (void)in10; (void)in11; (void)in12; (void)in13;
    mlp_step_k0(out0, in4, out1, buf1, buf12);
    mlp_step_k1(out2, buf12, buf2);
    mlp_step_k2(buf2, out3, buf3);
    mlp_step_k3(in5, buf0);
    mlp_step_k4(buf2, out3, buf3, buf13);
    mlp_step_k5(buf13, buf4);
    mlp_step_k6(buf0, buf4, buf14, buf17);
    mlp_step_k7(in5, buf2, out3, buf3, buf17, buf10);
    mlp_step_k8(in14, buf10, buf11, out12);
    mlp_step_k9(in5, buf14, buf13, buf15);
    mlp_step_k10(out2, buf15, buf1, out1, buf5, buf16);
    mlp_step_k11(buf16, in4, buf6);
    mlp_step_k12(buf6, buf11, out4, out8, out0);
    mlp_step_k13(buf16, buf7);
    mlp_step_k14(buf7, buf11, out5, out9, out1);
    mlp_step_k15(buf15, buf12, buf8);
    mlp_step_k16(buf8, buf11, out6, out10, out2);
    mlp_step_k17(buf15, buf9);
    mlp_step_k18(buf9, buf11, out7, out11, out3);
    return 0;
}

/* mlp_step with arrays of pointers, for generic drivers. */
int mlp_step_eval(const void *const *in, void *const *out, void *work) {
    return mlp_step((const float *)in[0], (const float *)in[1], (const float *)in[2], (const float *)in[3], (const float *)in[4], (const float *)in[5], (const float *)in[6], (const float *)in[7], (const float *)in[8], (const float *)in[9], (const float *)in[10], (const float *)in[11], (const float *)in[12], (const float *)in[13], (const double *)in[14], (float *)out[0], (float *)out[1], (float *)out[2], (float *)out[3], (float *)out[4], (float *)out[5], (float *)out[6], (float *)out[7], (float *)out[8], (float *)out[9], (float *)out[10], (float *)out[11], (float *)out[12], work);
}

/* Interface: workspace size, counts, names and shapes of the inputs and outputs. */
static const ptrdiff_t mlp_step_dims[53] = {128, 784, 128, 1, 10, 128, 10, 1, 784, 128, 10, 128, 128, 784, 128, 1, 10, 128, 10, 1, 128, 784, 128, 1, 10, 128, 10, 1, 128, 784, 128, 1, 10, 128, 10, 1, 128, 784, 128, 1, 10, 128, 10, 1, 128, 784, 128, 1, 10, 128, 10, 1, 0};
size_t mlp_step_work_bytes(void) { return 676352; }
int mlp_step_n_in(void) { return 15; }
int mlp_step_n_out(void) { return 13; }
const char *mlp_step_in_name(int i) {
    switch (i) {
    case 0: return "in0";
    case 1: return "in1";
    case 2: return "in2";
    case 3: return "in3";
    case 4: return "in4";
    case 5: return "in5";
    case 6: return "in6";
    case 7: return "in7";
    case 8: return "in8";
    case 9: return "in9";
    case 10: return "in10";
    case 11: return "in11";
    case 12: return "in12";
    case 13: return "in13";
    case 14: return "in14";
    default: return NULL;
    }
}
int mlp_step_in_ndim(int i) {
    switch (i) {
    case 0: return 2;
    case 1: return 2;
    case 2: return 2;
    case 3: return 2;
    case 4: return 2;
    case 5: return 2;
    case 6: return 2;
    case 7: return 2;
    case 8: return 2;
    case 9: return 2;
    case 10: return 2;
    case 11: return 2;
    case 12: return 2;
    case 13: return 2;
    case 14: return 0;
    default: return -1;
    }
}
const ptrdiff_t *mlp_step_in_shape(int i) {
    switch (i) {
    case 0: return mlp_step_dims + 0;
    case 1: return mlp_step_dims + 2;
    case 2: return mlp_step_dims + 4;
    case 3: return mlp_step_dims + 6;
    case 4: return mlp_step_dims + 8;
    case 5: return mlp_step_dims + 10;
    case 6: return mlp_step_dims + 12;
    case 7: return mlp_step_dims + 14;
    case 8: return mlp_step_dims + 16;
    case 9: return mlp_step_dims + 18;
    case 10: return mlp_step_dims + 20;
    case 11: return mlp_step_dims + 22;
    case 12: return mlp_step_dims + 24;
    case 13: return mlp_step_dims + 26;
    case 14: return mlp_step_dims + 28;
    default: return NULL;
    }
}
const char *mlp_step_out_name(int i) {
    switch (i) {
    case 0: return "out0";
    case 1: return "out1";
    case 2: return "out2";
    case 3: return "out3";
    case 4: return "out4";
    case 5: return "out5";
    case 6: return "out6";
    case 7: return "out7";
    case 8: return "out8";
    case 9: return "out9";
    case 10: return "out10";
    case 11: return "out11";
    case 12: return "out12";
    default: return NULL;
    }
}
int mlp_step_out_ndim(int i) {
    switch (i) {
    case 0: return 2;
    case 1: return 2;
    case 2: return 2;
    case 3: return 2;
    case 4: return 2;
    case 5: return 2;
    case 6: return 2;
    case 7: return 2;
    case 8: return 2;
    case 9: return 2;
    case 10: return 2;
    case 11: return 2;
    case 12: return 0;
    default: return -1;
    }
}
const ptrdiff_t *mlp_step_out_shape(int i) {
    switch (i) {
    case 0: return mlp_step_dims + 28;
    case 1: return mlp_step_dims + 30;
    case 2: return mlp_step_dims + 32;
    case 3: return mlp_step_dims + 34;
    case 4: return mlp_step_dims + 36;
    case 5: return mlp_step_dims + 38;
    case 6: return mlp_step_dims + 40;
    case 7: return mlp_step_dims + 42;
    case 8: return mlp_step_dims + 44;
    case 9: return mlp_step_dims + 46;
    case 10: return mlp_step_dims + 48;
    case 11: return mlp_step_dims + 50;
    case 12: return mlp_step_dims + 52;
    default: return NULL;
    }
}
