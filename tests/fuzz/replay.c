/* replay.c: runs a fuzz driver over files without libFuzzer, like SQLite's fuzzcheck, so the
 * corpus and the crash regressions are checked by any compiler in the normal test flow
 * (`make fuzz-check`, built with the unit-asan sanitizers).
 *
 *     replay_model FILE_OR_DIR...
 *
 * Each input runs in a child process, so one crash does not hide the next; every failing
 * file is named and the exit status is 1 if any failed. */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int n_run, n_failed;

static uint8_t *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    size_t cap = 4096, n = 0, r;
    uint8_t *b = malloc(cap);
    while (b && (r = fread(b + n, 1, cap - n, f)) > 0) {
        n += r;
        if (n == cap) {
            uint8_t *nb = realloc(b, cap *= 2);
            if (!nb) free(b);
            b = nb;
        }
    }
    fclose(f);
    *len = n;
    return b;
}

static void run_file(const char *path)
{
    size_t len;
    uint8_t *buf = slurp(path, &len);
    if (!buf) {
        fprintf(stderr, "replay: cannot read %s\n", path);
        n_failed++;
        return;
    }
    /* an exact-size copy, so ASan sees reads past the end of the input */
    uint8_t *exact = malloc(len ? len : 1);
    memcpy(exact, buf, len);
    free(buf);
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        alarm(30);
        LLVMFuzzerTestOneInput(exact, len);
        _exit(0);
    }
    int status = 0;
    if (pid < 0) LLVMFuzzerTestOneInput(exact, len);
    else while (waitpid(pid, &status, 0) < 0) {}
    free(exact);
    n_run++;
    if (status) {
        n_failed++;
        printf("FAILED %s (%s %d)\n", path, WIFSIGNALED(status) ? "signal" : "exit status",
               WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
    }
}

static int by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void run_path(const char *path)
{
    struct stat sb;
    if (stat(path, &sb) != 0) {
        fprintf(stderr, "replay: %s does not exist\n", path);
        n_failed++;
        return;
    }
    if (!S_ISDIR(sb.st_mode)) {
        run_file(path);
        return;
    }
    DIR *d = opendir(path);
    if (!d) return;
    char **names = NULL;
    size_t n = 0, cap = 0;
    for (struct dirent *e; (e = readdir(d));) {
        if (e->d_name[0] == '.') continue;
        if (n == cap) names = realloc(names, (cap = cap ? cap * 2 : 64) * sizeof *names);
        size_t l = strlen(path) + strlen(e->d_name) + 2;
        names[n] = malloc(l);
        snprintf(names[n++], l, "%s/%s", path, e->d_name);
    }
    closedir(d);
    if (n) qsort(names, n, sizeof *names, by_name);
    for (size_t i = 0; i < n; i++) {
        run_path(names[i]);
        free(names[i]);
    }
    free(names);
}

int main(int argc, char **argv)
{
    LLVMFuzzerInitialize(&argc, &argv);
    for (int i = 1; i < argc; i++) run_path(argv[i]);
    printf("%s: %d inputs, %d failed\n", argv[0], n_run, n_failed);
    return n_failed ? 1 : 0;
}
