// A SQLite workload: inserts, an index, lookups, an aggregate and a sort,
// in an in-memory database; prints a checksum so every engine's run can be
// compared with the native build's.
#include <stdio.h>
#include <stdlib.h>
#include "sqlite3.h"


// SQLITE_OS_OTHER: no operating-system layer, so the program imports only
// what printing and exiting need. The databases are ":memory:" and temp
// storage is in memory (SQLITE_TEMP_STORE=3), so the VFS never opens a file.
static int no_open(sqlite3_vfs *v, const char *name, sqlite3_file *f, int flags, int *out) {
    (void)v; (void)name; (void)flags; (void)out;
    f->pMethods = 0;
    return SQLITE_CANTOPEN;
}
static int no_delete(sqlite3_vfs *v, const char *name, int sync) { (void)v; (void)name; (void)sync; return SQLITE_IOERR_DELETE; }
static int no_access(sqlite3_vfs *v, const char *name, int flags, int *out) { (void)v; (void)name; (void)flags; *out = 0; return SQLITE_OK; }
static int full_name(sqlite3_vfs *v, const char *name, int n, char *out) { (void)v; sqlite3_snprintf(n, out, "%s", name); return SQLITE_OK; }
static int randomness(sqlite3_vfs *v, int n, char *out) {
    (void)v;
    static unsigned seed = 1;
    for (int i = 0; i < n; i++) { seed = seed * 1103515245u + 12345u; out[i] = (char)(seed >> 16); }
    return n;
}
static int sleep_us(sqlite3_vfs *v, int us) { (void)v; return us; }
static int now(sqlite3_vfs *v, sqlite3_int64 *out) { (void)v; *out = 210866760000000LL; return SQLITE_OK; }
static sqlite3_vfs memory_only = {
    .iVersion = 2, .szOsFile = sizeof(sqlite3_file), .mxPathname = 64, .zName = "memory-only",
    .xOpen = no_open, .xDelete = no_delete, .xAccess = no_access, .xFullPathname = full_name,
    .xRandomness = randomness, .xSleep = sleep_us, .xCurrentTimeInt64 = now,
};
int sqlite3_os_init(void) { return sqlite3_vfs_register(&memory_only, 1); }
int sqlite3_os_end(void) { return SQLITE_OK; }

static void check(int rc, sqlite3 *db, const char *what) {
    if (rc != SQLITE_OK && rc != SQLITE_DONE && rc != SQLITE_ROW) {
        fprintf(stderr, "%s: %s\n", what, sqlite3_errmsg(db));
        exit(1);
    }
}

int main(int argc, char **argv) {
    int n = argc > 1 ? atoi(argv[1]) : 20000;
    sqlite3 *db;
    check(sqlite3_open(":memory:", &db), db, "open");
    check(sqlite3_exec(db, "CREATE TABLE t(id INTEGER PRIMARY KEY, k INTEGER, s TEXT)", 0, 0, 0), db, "create");
    sqlite3_stmt *ins;
    check(sqlite3_prepare_v2(db, "INSERT INTO t(k, s) VALUES(?, ?)", -1, &ins, 0), db, "prepare insert");
    check(sqlite3_exec(db, "BEGIN", 0, 0, 0), db, "begin");
    unsigned x = 12345;
    char buf[64];
    for (int i = 0; i < n; i++) {
        x = x * 1103515245u + 12345u;
        snprintf(buf, sizeof buf, "row-%u-%d", x % 100000, i);
        sqlite3_bind_int(ins, 1, (int)(x % 100000));
        sqlite3_bind_text(ins, 2, buf, -1, SQLITE_TRANSIENT);
        check(sqlite3_step(ins), db, "insert");
        sqlite3_reset(ins);
    }
    check(sqlite3_exec(db, "COMMIT", 0, 0, 0), db, "commit");
    sqlite3_finalize(ins);
    check(sqlite3_exec(db, "CREATE INDEX tk ON t(k)", 0, 0, 0), db, "index");
    sqlite3_stmt *q;
    check(sqlite3_prepare_v2(db, "SELECT count(*), sum(length(s)) FROM t WHERE k BETWEEN ? AND ?", -1, &q, 0), db, "prepare query");
    long long sum = 0;
    for (int i = 0; i < n / 10; i++) {
        sqlite3_bind_int(q, 1, i * 7 % 100000);
        sqlite3_bind_int(q, 2, i * 7 % 100000 + 500);
        check(sqlite3_step(q), db, "query");
        sum += sqlite3_column_int64(q, 0) * 31 + sqlite3_column_int64(q, 1);
        sqlite3_reset(q);
    }
    sqlite3_finalize(q);
    sqlite3_stmt *agg;
    check(sqlite3_prepare_v2(db, "SELECT k % 97, count(*), max(s) FROM t GROUP BY k % 97 ORDER BY 2 DESC, 1", -1, &agg, 0), db, "prepare agg");
    while (sqlite3_step(agg) == SQLITE_ROW) {
        sum = sum * 131 + sqlite3_column_int(agg, 0) + sqlite3_column_int(agg, 1);
        const unsigned char *s = sqlite3_column_text(agg, 2);
        while (*s) sum = sum * 7 + *s++;
    }
    sqlite3_finalize(agg);
    sqlite3_close(db);
    printf("rows %d checksum %lld\n", n, sum);
    return 0;
}
