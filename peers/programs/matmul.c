// C = A * B for N x N doubles (argv[1], default 1024), the i-k-j loop
// order: f64 loads, multiplies and adds over rows. Prints a checksum of C
// (wasm floats are deterministic: every runtime must print the same).
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv) {
    int n = argc > 1 ? atoi(argv[1]) : 1024;
    if (n < 1) n = 1;
    double *a = malloc(sizeof(double) * n * n);
    double *b = malloc(sizeof(double) * n * n);
    double *c = calloc((size_t)n * n, sizeof(double));
    if (!a || !b || !c) {
        fprintf(stderr, "out of memory\n");
        return 1;
    }
    for (int i = 0; i < n; i++) {
        for (int j = 0; j < n; j++) {
            a[i * n + j] = (double)((i * 7 + j * 3) % 17) / 16.0 - 0.5;
            b[i * n + j] = (double)((i * 5 + j * 11) % 23) / 22.0 - 0.25;
        }
    }
    for (int i = 0; i < n; i++) {
        double *ci = c + (size_t)i * n;
        for (int k = 0; k < n; k++) {
            double aik = a[i * n + k];
            const double *bk = b + (size_t)k * n;
            for (int j = 0; j < n; j++) ci[j] += aik * bk[j];
        }
    }
    double sum = 0, weighted = 0;
    for (int i = 0; i < n * n; i++) {
        sum += c[i];
        weighted += c[i] * (double)(i % 101);
    }
    printf("matmul %dx%d: sum %.9e weighted %.9e c[last] %.9e\n", n, n, sum, weighted, c[n * n - 1]);
    free(a);
    free(b);
    free(c);
    return 0;
}
