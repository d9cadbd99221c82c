/* Runner for testlib.h: one forked process per case, each with a timeout. */
#include "testlib.h"

#include <errno.h>
#include <ftw.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>

#define TESTLIB_MAX 256

static struct {
    const char *name;
    testlib_fn fn;
    unsigned timeout_s;
} cases[TESTLIB_MAX];
static int ncases;

void testlib_register(const char *name, testlib_fn fn, unsigned timeout_s) {
    if (ncases == TESTLIB_MAX) {
        fprintf(stderr, "testlib: too many cases\n");
        abort();
    }
    cases[ncases].name = name;
    cases[ncases].fn = fn;
    cases[ncases].timeout_s = timeout_s;
    ncases++;
}

/* The running case's directory: named by the runner before the fork, so
 * that it can remove it whatever became of the case. */
static char case_dir[256];

const char *testlib_case_dir(void) {
    if (mkdir(case_dir, 0755) != 0 && errno != EEXIST) {
        fprintf(stderr, "testlib: mkdir %s: %s\n", case_dir, strerror(errno));
        _exit(1);
    }
    (void)chmod(case_dir, 0755); /* whatever the umask: sandboxed children enter it */
    return case_dir;
}

static int remove_entry(const char *path, const struct stat *st, int type, struct FTW *ftw) {
    (void)st, (void)type, (void)ftw;
    if (remove(path) != 0 && errno != ENOENT)
        fprintf(stderr, "testlib: cannot remove %s: %s\n", path, strerror(errno));
    return 0;
}

static void remove_case_dir(void) {
    struct stat st;
    if (lstat(case_dir, &st) == 0)
        (void)nftw(case_dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static int selected(int argc, char **argv, const char *name) {
    if (argc < 2)
        return 1;
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], name) == 0)
            return 1;
    return 0;
}

/* Runs one case in a child; returns 0 pass, 1 fail, 2 skip. */
static int run_case(int i) {
    const char *tmp = getenv("TMPDIR");
    snprintf(case_dir, sizeof case_dir, "%s/ohncp-case-%d-%d",
             tmp != NULL && tmp[0] != '\0' ? tmp : "/tmp", (int)getpid(), i);
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        perror("fork");
        return 1;
    }
    if (pid == 0) {
        setpgid(0, 0); /* a timeout kills the case and whatever it started */
        alarm(cases[i].timeout_s);
        cases[i].fn();
        fflush(NULL);
        _exit(0);
    }
    int st;
    while (waitpid(pid, &st, 0) < 0)
        if (errno != EINTR) {
            perror("waitpid");
            return 1;
        }
    (void)kill(-pid, SIGKILL);
    remove_case_dir();
    if (WIFEXITED(st) && WEXITSTATUS(st) == 0)
        return 0;
    if (WIFEXITED(st) && WEXITSTATUS(st) == 77)
        return 2;
    if (WIFSIGNALED(st))
        fprintf(stderr, "  %s: killed by signal %d%s\n", cases[i].name, WTERMSIG(st),
                WTERMSIG(st) == SIGALRM ? " (timeout)" : "");
    return 1;
}

int main(int argc, char **argv) {
    int passed = 0, failed = 0, skipped = 0;
    for (int i = 0; i < ncases; i++) {
        if (!selected(argc, argv, cases[i].name))
            continue;
        int r = run_case(i);
        const char *word = r == 0 ? "ok" : r == 2 ? "skip" : "FAIL";
        printf("%-4s %s\n", word, cases[i].name);
        fflush(stdout);
        passed += r == 0;
        failed += r == 1;
        skipped += r == 2;
    }
    printf("%d passed, %d failed, %d skipped\n", passed, failed, skipped);
    return failed ? 1 : 0;
}
