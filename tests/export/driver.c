/* A generic driver for an exported function: compile with -DFN=name -DHEADER='"name.h"'.

   driver ITEMSIZES INPUT OUTPUT [THREADS ITERATIONS]
   ITEMSIZES has one digit (4 or 8) per input and then per output. The inputs are read from
   INPUT as raw bytes one after another, the outputs written to OUTPUT the same way, and the
   interface queries printed to stdout. With THREADS, that many threads each call FN_eval
   ITERATIONS times with their own workspace and outputs; any result that differs from the
   single-threaded one is a failure (exit status 1). */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include HEADER

#define CAT_(a, b) a##b
#define CAT(a, b) CAT_(a, b)
#define F(suffix) CAT(FN, suffix)

static size_t bytes_of(int ndim, const ptrdiff_t *shape, int itemsize) {
    size_t n = (size_t)itemsize;
    for (int d = 0; d < ndim; d++) n *= (size_t)shape[d];
    return n;
}

static const char *sizes;
static const void *inputs[64];
static size_t out_bytes[64];
static void *reference[64];
static int iterations;

static void **new_outputs(void) {
    void **out = calloc((size_t)F(_n_out)() + 1, sizeof *out);
    for (int i = 0; i < F(_n_out)(); i++) out[i] = malloc(out_bytes[i] + 1);
    return out;
}

static void *worker(void *arg) {
    void **out = new_outputs();
    void *work = malloc(F(_work_bytes)() + 1);
    long bad = 0;
    (void)arg;
    for (int it = 0; it < iterations; it++) {
        for (int i = 0; i < F(_n_out)(); i++) memset(out[i], 0xff, out_bytes[i]);
        bad += F(_eval)(inputs, out, work) != 0;
        for (int i = 0; i < F(_n_out)(); i++) bad += memcmp(out[i], reference[i], out_bytes[i]) != 0;
    }
    return (void *)bad;
}

int main(int argc, char **argv) {
    int nin = F(_n_in)(), nout = F(_n_out)();
    FILE *fin, *fout;
    void *work;
    if (argc < 4 || (int)strlen(argv[1]) != nin + nout || nin > 64 || nout > 64) return 2;
    sizes = argv[1];
    fin = fopen(argv[2], "rb");
    if (!fin) return 2;
    for (int i = 0; i < nin; i++) {
        size_t n = bytes_of(F(_in_ndim)(i), F(_in_shape)(i), sizes[i] - '0');
        void *buffer = malloc(n + 1);
        if (fread(buffer, 1, n, fin) != n) return 2;
        inputs[i] = buffer;
        printf("in %d %s %d", i, F(_in_name)(i), F(_in_ndim)(i));
        for (int d = 0; d < F(_in_ndim)(i); d++) printf(" %td", F(_in_shape)(i)[d]);
        printf("\n");
    }
    fclose(fin);
    for (int i = 0; i < nout; i++) {
        out_bytes[i] = bytes_of(F(_out_ndim)(i), F(_out_shape)(i), sizes[nin + i] - '0');
        printf("out %d %s %d", i, F(_out_name)(i), F(_out_ndim)(i));
        for (int d = 0; d < F(_out_ndim)(i); d++) printf(" %td", F(_out_shape)(i)[d]);
        printf("\n");
    }
    printf("work %lu\n", (unsigned long)F(_work_bytes)());
    printf("invalid %d %d %d\n", F(_in_name)(nin) == NULL, F(_out_shape)(-1) == NULL, F(_out_ndim)(nout));
    {
        void **out = new_outputs();
        work = malloc(F(_work_bytes)() + 1);
        if (F(_eval)(inputs, out, work) != 0) return 3;
        fout = fopen(argv[3], "wb");
        for (int i = 0; i < nout; i++) {
            fwrite(out[i], 1, out_bytes[i], fout);
            reference[i] = out[i];
        }
        fclose(fout);
    }
    if (argc >= 6) {
        int threads = atoi(argv[4]);
        long bad = 0;
        pthread_t ids[16];
        iterations = atoi(argv[5]);
        if (threads > 16) return 2;
        for (int t = 0; t < threads; t++) pthread_create(&ids[t], NULL, worker, NULL);
        for (int t = 0; t < threads; t++) {
            void *result;
            pthread_join(ids[t], &result);
            bad += (long)result;
        }
        printf("mismatches %ld\n", bad);
        return bad != 0;
    }
    return 0;
}
