// Attempts to leave the preopened directory "data": each must fail, and
// what is inside must still open. (Natively, without a sandbox, they
// would succeed: this program's expected output is WASI's.)
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static void try_open(const char *path) {
    int fd = open(path, O_RDONLY);
    if (fd >= 0) {
        char buf[64] = {0};
        read(fd, buf, sizeof buf - 1);
        printf("open %s: ok: %s", path, buf);
        close(fd);
    } else {
        printf("open %s: failed: %s\n", path, strerror(errno));
    }
}

int main(void) {
    try_open("data/inside.txt");
    try_open("data/../outside.txt");
    try_open("data/sub/../../outside.txt");
    try_open("data/escape");
    try_open("data/escape_absolute");
    try_open("/etc/passwd");
    try_open("outside.txt");
    printf("create outside: %s\n", open("data/../created.txt", O_WRONLY | O_CREAT, 0644) >= 0 ? "ok" : strerror(errno));
    printf("opendir ..: %s\n", opendir("data/..") ? "ok" : strerror(errno));
    printf("symlink pointing out, then read: ");
    symlink("../outside.txt", "data/made_link");
    try_open("data/made_link");
    unlink("data/made_link");
    return 0;
}
