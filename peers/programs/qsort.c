// qsort (wasi-libc's, through a comparison function pointer: indirect
// calls) of N ints (argv[1], default 1000000) from a xorshift generator,
// then a check that they are sorted and a checksum of their order.
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

static int compare(const void *a, const void *b) {
    int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv) {
    size_t n = argc > 1 ? strtoul(argv[1], NULL, 10) : 1000000;
    int32_t *v = malloc(sizeof(int32_t) * (n ? n : 1));
    if (!v) {
        fprintf(stderr, "out of memory\n");
        return 1;
    }
    uint32_t x = 2463534242u;
    for (size_t i = 0; i < n; i++) {
        x ^= x << 13; x ^= x >> 17; x ^= x << 5;
        v[i] = (int32_t)x;
    }
    qsort(v, n, sizeof(int32_t), compare);
    uint64_t mix = 0;
    for (size_t i = 0; i < n; i++) {
        if (i > 0 && v[i - 1] > v[i]) {
            printf("not sorted at %zu\n", i);
            return 1;
        }
        mix = (mix ^ (uint32_t)v[i]) * 0x100000001b3ull;
    }
    printf("qsort of %zu ints: min %d max %d mix %016llx\n", n, n ? v[0] : 0, n ? v[n - 1] : 0, (unsigned long long)mix);
    free(v);
    return 0;
}
