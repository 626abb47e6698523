// Sieve of Eratosthenes up to N (argv[1], default 80000000): byte-array
// stores with strides, then a scan. Prints the prime count and a checksum
// of the primes, so every runtime must find the same ones.
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv) {
    uint32_t n = argc > 1 ? (uint32_t)strtoul(argv[1], NULL, 10) : 80000000u;
    if (n < 2) {
        printf("primes below %u: 0\n", n);
        return 0;
    }
    unsigned char *composite = malloc(n);
    if (!composite) {
        fprintf(stderr, "out of memory\n");
        return 1;
    }
    memset(composite, 0, n);
    for (uint32_t i = 2; (uint64_t)i * i < n; i++) {
        if (!composite[i]) {
            for (uint32_t j = i * i; j < n; j += i) composite[j] = 1;
        }
    }
    uint32_t count = 0;
    uint64_t sum = 0, mix = 0;
    for (uint32_t i = 2; i < n; i++) {
        if (!composite[i]) {
            count++;
            sum += i;
            mix = (mix ^ i) * 0x100000001b3ull;
        }
    }
    printf("primes below %u: %u sum %llu mix %016llx\n", n, count, (unsigned long long)sum, (unsigned long long)mix);
    free(composite);
    return 0;
}
