// Exit statuses: `exit(N)` from an atexit-flushed program, or main's return.
#include <stdio.h>
#include <stdlib.h>

static void goodbye(void) { printf("atexit handler ran\n"); }

int main(int argc, char **argv) {
    atexit(goodbye);
    printf("exiting with %s\n", argc > 1 ? argv[1] : "main's 0");
    if (argc > 1) exit(atoi(argv[1]));
    return 0;
}
