// stdin to stdout, numbered and upper-cased; formatted numbers; a line
// to stderr (not compared).
#include <ctype.h>
#include <stdio.h>
#include <string.h>

int main(void) {
    char line[256];
    int n = 0;
    while (fgets(line, sizeof line, stdin)) {
        for (char *p = line; *p; p++) *p = (char)toupper((unsigned char)*p);
        printf("%3d: %s", ++n, line);
    }
    printf("lines: %d\n", n);
    printf("numbers: %d %x %lld %.3f %g %e\n", -42, 255, 1LL << 40, 3.14159, 0.1 + 0.2, 6.02e23);
    printf("padding: [%8s] [%-8s] [%08.2f]\n", "right", "left", -1.5);
    fprintf(stderr, "this goes to stderr\n");
    puts("done");
    return 0;
}
