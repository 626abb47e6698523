// The program LLDB debugs in stress/tests/lldb.rs: a loop in main calls a
// small function, so a test can break in the callee, look at the caller's
// frame, and change a local that the output depends on.
#include <stdio.h>

static int square(int x) {
    int result = x * x;
    return result;
}

int main(void) {
    int total = 0;
    int factor = 3;
    for (int i = 1; i <= 4; i++) {
        total += square(i) * factor;
    }
    printf("total=%d\n", total);
    return 0;
}
