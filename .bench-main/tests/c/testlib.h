/*
 * testlib.h - a tiny test harness for the C tests.
 *
 * TEST(name) { ... } registers a case. main() (from testlib_main.c) runs
 * every case, or those named on the command line, each in its own forked
 * process with a timeout, and ends with the line "N passed, N failed".
 * A case that needs files makes them in testlib_case_dir().
 * Inside a case, CHECK* print the failing expression and end the case.
 */
#ifndef OHNCP_TESTLIB_H
#define OHNCP_TESTLIB_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef void (*testlib_fn)(void);
void testlib_register(const char *name, testlib_fn fn, unsigned timeout_s);

/* A directory of the running case's own (mode 0755, below $TMPDIR or /tmp),
 * made on first use. The runner removes it with everything in it when the
 * case ends, however it ends (pass, CHECK, crash, timeout). */
const char *testlib_case_dir(void);

#define TEST_TIMEOUT(name, secs)                                              \
    static void test_##name(void);                                            \
    __attribute__((constructor)) static void testlib_reg_##name(void) {       \
        testlib_register(#name, test_##name, (secs));                        \
    }                                                                         \
    static void test_##name(void)

#define TEST(name) TEST_TIMEOUT(name, 30)

#define CHECK(cond)                                                           \
    do {                                                                      \
        if (!(cond)) {                                                        \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__,  \
                    #cond);                                                   \
            fflush(stderr);                                                   \
            _exit(1);                                                         \
        }                                                                     \
    } while (0)

#define CHECK_EQ(a, b)                                                        \
    do {                                                                      \
        long long testlib_a = (long long)(a), testlib_b = (long long)(b);     \
        if (testlib_a != testlib_b) {                                         \
            fprintf(stderr, "%s:%d: CHECK_EQ failed: %s == %s (%lld != %lld)\n", \
                    __FILE__, __LINE__, #a, #b, testlib_a, testlib_b);        \
            fflush(stderr);                                                   \
            _exit(1);                                                         \
        }                                                                     \
    } while (0)

#define CHECK_STREQ(a, b)                                                     \
    do {                                                                      \
        const char *testlib_sa = (a), *testlib_sb = (b);                      \
        if (testlib_sa == NULL || testlib_sb == NULL ||                       \
            strcmp(testlib_sa, testlib_sb) != 0) {                            \
            fprintf(stderr, "%s:%d: CHECK_STREQ failed: %s == %s (\"%s\" != \"%s\")\n", \
                    __FILE__, __LINE__, #a, #b,                               \
                    testlib_sa ? testlib_sa : "(null)",                       \
                    testlib_sb ? testlib_sb : "(null)");                      \
            fflush(stderr);                                                   \
            _exit(1);                                                         \
        }                                                                     \
    } while (0)

/* Print a reason and end the case as skipped (exit status 77). */
#define SKIP(...)                                                             \
    do {                                                                      \
        fprintf(stderr, "SKIP: " __VA_ARGS__);                                \
        fputc('\n', stderr);                                                  \
        fflush(stderr);                                                       \
        _exit(77);                                                            \
    } while (0)

#endif /* OHNCP_TESTLIB_H */
