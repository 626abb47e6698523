// Arguments and the environment.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

extern char **environ;

static int cmp(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

int main(int argc, char **argv) {
    printf("argc: %d\n", argc);
    for (int i = 1; i < argc; i++) printf("argv[%d]: [%s]\n", i, argv[i]);
    const char *greeting = getenv("GREETING");
    printf("GREETING: %s\n", greeting ? greeting : "(unset)");
    printf("UNSET_VARIABLE: %s\n", getenv("UNSET_VARIABLE") ? "set" : "(unset)");
    char *mine[32];
    int n = 0;
    for (char **e = environ; *e && n < 32; e++)
        if (strncmp(*e, "ONECOPY_TEST_", 13) == 0) mine[n++] = *e;
    qsort(mine, n, sizeof *mine, cmp);
    for (int i = 0; i < n; i++) printf("env: %s\n", mine[i]);
    return 0;
}
