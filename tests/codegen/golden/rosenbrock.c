#include <math.h>
#include <stddef.h>

#ifndef DLGRAD_KERNEL
#if defined(__GNUC__)
#define DLGRAD_KERNEL static __attribute__((noinline))
#else
#define DLGRAD_KERNEL static
#endif
#endif

/* kernel 0: elementwise over []: 3 pow, 2 sub, mul, add (through 2 slice, 2 reshape) */
DLGRAD_KERNEL void rosenbrock_k0(const double *restrict in0, double *restrict out0) {
    const double v0 = in0[1];
    const double v1 = in0[0];
    out0[0] = 100.0*((v0 - v1*v1)*(v0 - v1*v1)) + (1.0 - v1)*(1.0 - v1);
}

/* kernel 1: elementwise over [2]: pow, 2 sub, 5 mul, 2 add (through 2 slice, 4 reshape, 2 pad) */
DLGRAD_KERNEL void rosenbrock_k1(const double *restrict in0, double *restrict out1) {
    for (ptrdiff_t i0 = 0; i0 < 2; ++i0) {
        const int m0 = (i0 >= 0 && i0 < 1);
        const int m1 = (i0 >= 1 && i0 < 2);
        const double v0 = ((i0 >= 0 && i0 < 1) ? in0[0] : 0);
        const double v1 = ((i0 >= 0 && i0 < 1) ? in0[1] : 0);
        const double v2 = ((i0 >= 1 && i0 < 2) ? in0[1] : 0);
        const double v3 = ((i0 >= 1 && i0 < 2) ? in0[0] : 0);
        out1[i0] = ((m0) != 0 ? ((1.0 - v0)*(-2.0) + (v1 - v0*v0)*(-200.0)*(2.0*v0)) : (0)) + ((m1) != 0 ? ((v2 - v3*v3)*200.0) : (0));
    }
}

/* Runs the kernels in order; returns 0. */
int rosenbrock(const double *in0, double *out0, double *out1, void *work) {
    (void)work;
    rosenbrock_k0(in0, out0);
    rosenbrock_k1(in0, out1);
    return 0;
}

/* rosenbrock with arrays of pointers, for generic drivers. */
int rosenbrock_eval(const void *const *in, void *const *out, void *work) {
    return rosenbrock((const double *)in[0], (double *)out[0], (double *)out[1], work);
}

/* Interface: workspace size, counts, names and shapes of the inputs and outputs. */
static const ptrdiff_t rosenbrock_dims[3] = {2, 2, 0};
size_t rosenbrock_work_bytes(void) { return 0; }
int rosenbrock_n_in(void) { return 1; }
int rosenbrock_n_out(void) { return 2; }
const char *rosenbrock_in_name(int i) {
    switch (i) {
    case 0: return "in0";
    default: return NULL;
    }
}
int rosenbrock_in_ndim(int i) {
    switch (i) {
    case 0: return 1;
    default: return -1;
    }
}
const ptrdiff_t *rosenbrock_in_shape(int i) {
    switch (i) {
    case 0: return rosenbrock_dims + 0;
    default: return NULL;
    }
}
const char *rosenbrock_out_name(int i) {
    switch (i) {
    case 0: return "out0";
    case 1: return "out1";
    default: return NULL;
    }
}
int rosenbrock_out_ndim(int i) {
    switch (i) {
    case 0: return 0;
    case 1: return 1;
    default: return -1;
    }
}
const ptrdiff_t *rosenbrock_out_shape(int i) {
    switch (i) {
    case 0: return rosenbrock_dims + 1;
    case 1: return rosenbrock_dims + 1;
    default: return NULL;
    }
}
