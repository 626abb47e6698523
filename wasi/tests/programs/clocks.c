// Clocks, sleeping, and random bytes: facts that hold on every run.
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static double seconds(clockid_t id) {
    struct timespec t;
    clock_gettime(id, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

int main(void) {
    struct timespec res;
    printf("realtime resolution ok: %d\n", clock_getres(CLOCK_REALTIME, &res) == 0 && res.tv_sec == 0);
    printf("monotonic resolution ok: %d\n", clock_getres(CLOCK_MONOTONIC, &res) == 0 && res.tv_sec == 0);
    printf("realtime after 2020: %d\n", seconds(CLOCK_REALTIME) > 1577836800.0);
    printf("time() agrees: %d\n", time(NULL) - (time_t)seconds(CLOCK_REALTIME) <= 1);
    double before = seconds(CLOCK_MONOTONIC);
    struct timespec nap = {0, 20 * 1000 * 1000};
    nanosleep(&nap, NULL);
    double slept = seconds(CLOCK_MONOTONIC) - before;
    printf("nanosleep 20 ms took at least 20 ms: %d\n", slept >= 0.020);
    before = seconds(CLOCK_MONOTONIC);
    usleep(10000);
    printf("usleep 10 ms took at least 10 ms: %d\n", seconds(CLOCK_MONOTONIC) - before >= 0.010);
    volatile double x = 0;
    for (int i = 0; i < 1000000; i++) x += i;
    printf("process CPU time counts: %d\n", seconds(CLOCK_PROCESS_CPUTIME_ID) > 0);
    unsigned char bytes[32] = {0}, again[32] = {0};
    printf("getentropy: %d %d\n", getentropy(bytes, sizeof bytes), getentropy(again, sizeof again));
    printf("random bytes differ: %d\n", memcmp(bytes, again, sizeof bytes) != 0);
    return 0;
}
