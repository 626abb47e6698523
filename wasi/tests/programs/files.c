// Files in the preopened directory "data": create, write, read back,
// append, seek, pread/pwrite, truncate, stat, rename, links, directories,
// and a sorted listing.
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int cmp(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static void list(const char *path) {
    DIR *d = opendir(path);
    if (!d) { printf("opendir %s: %s\n", path, strerror(errno)); return; }
    char *names[64];
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) && n < 64) names[n++] = strdup(e->d_name);
    closedir(d);
    qsort(names, n, sizeof *names, cmp);
    printf("%s:", path);
    for (int i = 0; i < n; i++) { printf(" %s", names[i]); free(names[i]); }
    printf("\n");
}

int main(void) {
    FILE *f = fopen("data/notes.txt", "w");
    if (!f) { printf("fopen: %s\n", strerror(errno)); return 1; }
    fprintf(f, "first line\nsecond line\n");
    fclose(f);

    f = fopen("data/notes.txt", "a");
    fputs("appended\n", f);
    fclose(f);

    char buf[128];
    f = fopen("data/notes.txt", "r");
    while (fgets(buf, sizeof buf, f)) printf("read: %s", buf);
    fseek(f, 6, SEEK_SET);
    printf("at %ld: %c\n", ftell(f), fgetc(f));
    fseek(f, -9, SEEK_END);
    printf("from end: %s", fgets(buf, sizeof buf, f));
    fclose(f);

    int fd = open("data/notes.txt", O_RDWR);
    ssize_t got = pread(fd, buf, 6, 11);
    buf[got] = 0;
    printf("pread: %s\n", buf);
    pwrite(fd, "SECOND", 6, 11);
    ftruncate(fd, 24);
    struct stat st;
    fstat(fd, &st);
    printf("size after truncate: %lld, regular: %d\n", (long long)st.st_size, S_ISREG(st.st_mode));
    lseek(fd, 0, SEEK_SET);
    got = read(fd, buf, sizeof buf - 1);
    buf[got] = 0;
    printf("contents: [%s]\n", buf);
    close(fd);

    printf("mkdir: %d\n", mkdir("data/dir", 0755));
    printf("mkdir again: %s\n", mkdir("data/dir", 0755) == 0 ? "ok" : strerror(errno));
    printf("rename: %d\n", rename("data/notes.txt", "data/dir/moved.txt"));
    printf("link: %d\n", link("data/dir/moved.txt", "data/hard.txt"));
    printf("symlink: %d\n", symlink("dir/moved.txt", "data/soft.txt"));
    char target[64];
    ssize_t n = readlink("data/soft.txt", target, sizeof target - 1);
    target[n < 0 ? 0 : n] = 0;
    printf("readlink: %s\n", target);
    stat("data/soft.txt", &st);
    printf("through the link: %lld bytes\n", (long long)st.st_size);
    lstat("data/soft.txt", &st);
    printf("the link itself is a link: %d\n", S_ISLNK(st.st_mode));
    printf("stat missing: %s\n", stat("data/missing", &st) == 0 ? "found" : strerror(errno));
    list("data");
    list("data/dir");
    printf("rmdir non-empty: %s\n", rmdir("data/dir") == 0 ? "ok" : strerror(errno));
    printf("unlink: %d %d %d\n", unlink("data/soft.txt"), unlink("data/hard.txt"), unlink("data/dir/moved.txt"));
    printf("rmdir: %d\n", rmdir("data/dir"));
    list("data");
    return 0;
}
