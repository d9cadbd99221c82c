/* test_request.c - the spawner's START parser (src/request.c, compiled in)
 * against messages no runtime sends: refused, nothing allocated for what
 * the message only claims, nothing leaked. */
#include "helpers.h"
#include "internal.h"
#include "spawner.h"

#include <fcntl.h>
#include <stdint.h>
#include <sys/socket.h>

/* The parser must check a claimed size against the bytes it has before it
 * allocates room for it. Under ASan or TSan the test binary refuses
 * allocations over 64 MiB (the sanitizer's error ends the case); elsewhere,
 * with glibc, calloc is watched here. Not under a sanitizer: its free()
 * cannot take what glibc's __libc_calloc returned (TSan dies in a CHECK). */
#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define TEST_ASAN 1
#endif
#if __has_feature(thread_sanitizer)
#define TEST_TSAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__)
#define TEST_ASAN 1
#endif
#if defined(__SANITIZE_THREAD__)
#define TEST_TSAN 1
#endif

#if defined(TEST_ASAN) || defined(TEST_TSAN)
#define TEST_ALLOC_LIMIT "max_allocation_size_mb=64:allocator_may_return_null=0"
#ifdef TEST_ASAN
const char *__asan_default_options(void);
const char *__asan_default_options(void) { return TEST_ALLOC_LIMIT; }
#else /* TSAN_OPTIONS from ctest come after these and keep them */
const char *__tsan_default_options(void);
const char *__tsan_default_options(void) { return TEST_ALLOC_LIMIT; }
#endif
static size_t biggest_calloc(void) { return 0; }
#elif defined(__GLIBC__)
void *__libc_calloc(size_t n, size_t size);
static size_t biggest;
void *calloc(size_t n, size_t size) {
    if (n != 0 && size > SIZE_MAX / n)
        biggest = SIZE_MAX;
    else if (n * size > biggest)
        biggest = n * size;
    return __libc_calloc(n, size);
}
static size_t biggest_calloc(void) { return biggest; }
#else
static size_t biggest_calloc(void) { return 0; }
#endif

/* Send header `h` and `payload` with the fds: a report pipe's write end,
 * cwd, then `extra` more (dups of /dev/null); parse it with
 * request_receive. Returns its result; *report gets the pipe's read end. */
static int send_and_parse(const struct proto_start *h, const void *payload, size_t len, int extra,
                          int *report, struct child_req *r) {
    int sv[2], rep[2];
    CHECK(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) == 0);
    CHECK(pipe2(rep, O_CLOEXEC | O_NONBLOCK) == 0);
    int fds[PROTO_FIXED_FDS + PROTO_MAX_FDS], n = 0;
    fds[n++] = rep[1];
    fds[n++] = open(".", O_PATH | O_DIRECTORY | O_CLOEXEC);
    for (int i = 0; i < extra; i++)
        fds[n++] = open("/dev/null", O_RDWR | O_CLOEXEC);
    for (int i = 0; i < n; i++)
        CHECK(fds[i] >= 0);
    union {
        char buf[CMSG_SPACE(sizeof(int) * (PROTO_FIXED_FDS + PROTO_MAX_FDS))];
        struct cmsghdr align;
    } u;
    struct iovec iov[2] = {{.iov_base = (void *)h, .iov_len = sizeof *h},
                           {.iov_base = (void *)payload, .iov_len = len}};
    struct msghdr msg = {.msg_iov = iov, .msg_iovlen = len ? 2 : 1, .msg_control = u.buf,
                         .msg_controllen = CMSG_SPACE(sizeof(int) * (size_t)n)};
    struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int) * (size_t)n);
    memcpy(CMSG_DATA(c), fds, sizeof(int) * (size_t)n);
    CHECK(sendmsg(sv[0], &msg, 0) == (ssize_t)(sizeof *h + len));
    for (int i = 0; i < n; i++)
        close(fds[i]); /* the parser holds its own copies now */
    close(sv[0]);
    int rc = request_receive(sv[1], 0, r);
    close(sv[1]);
    *report = rep[0];
    return rc;
}

/* The report the parser wrote to the start's pipe, if any: its code. */
static int report_code(int report) {
    struct proto_report rep;
    ssize_t n = read(report, &rep, sizeof rep);
    close(report);
    return n == (ssize_t)sizeof rep ? rep.code : -1;
}

static const char good_payload[] = "libx.so\0Main\0\0out\0A=1\0B=22\0b:n";

static struct proto_start good_header(void) {
    return (struct proto_start){.type = PROTO_START, .slot = 3, .gen = 1, .nfds = 1, .nenv = 2,
                                .lib_len = 8, .sym_len = 5, .params_len = 1, .names_len = 4,
                                .env_len = 9, .pname_len = 4,
                                .payload_len = sizeof good_payload};
}

TEST(well_formed_request_is_taken) {
    int fds = count_fds(), report;
    struct proto_start h = good_header();
    struct child_req r;
    CHECK_EQ(send_and_parse(&h, good_payload, sizeof good_payload, 1, &report, &r), 0);
    CHECK_STREQ(r.lib, "libx.so");
    CHECK_STREQ(r.sym, "Main");
    CHECK_STREQ(r.names[0], "out");
    CHECK_STREQ(r.envp[0], "A=1");
    CHECK_STREQ(r.envp[1], "B=22");
    CHECK(r.envp[2] == NULL);
    CHECK_STREQ(r.pname, "b:n");
    CHECK_EQ(r.slot, 3);
    request_close_fds(&r);
    request_free(&r);
    close(report);
    CHECK_EQ(count_fds(), fds);
}

/* A 25-byte payload that claims 1,342,177,280 environment strings: a
 * parser that allocates before checking asks for 10 GiB of pointers. */
TEST(environment_count_beyond_the_payload_is_refused_before_allocating) {
    int fds = count_fds(), report;
    static const char payload[25] = "l\0s\0\0p";
    struct proto_start h = {.type = PROTO_START, .nenv = 1342177280u, .env_len = 1342177280u,
                            .lib_len = 2, .sym_len = 2, .params_len = 1, .pname_len = 2,
                            .payload_len = sizeof payload};
    struct child_req r;
    CHECK_EQ(send_and_parse(&h, payload, sizeof payload, 0, &report, &r), -EINVAL);
    CHECK_EQ(report_code(report), NCP_ERR_INTERNAL); /* told: malformed */
    CHECK(biggest_calloc() < 1024 * 1024);
    CHECK_EQ(count_fds(), fds);
}

/* An fd count near INT_MAX: 5 + 2147483647 overflows an int (UBSan ends
 * the case); it must be refused as more than PROTO_MAX_FDS first. */
TEST(fd_count_near_int_max_is_refused) {
    int fds = count_fds(), report;
    struct proto_start h = good_header();
    h.std_mask = 7;
    h.flags = PROTO_F_MEMFD;
    h.nfds = 2147483647u;
    struct child_req r;
    CHECK_EQ(send_and_parse(&h, good_payload, sizeof good_payload, 3, &report, &r), -EINVAL);
    close(report);
    CHECK_EQ(count_fds(), fds);
}

/* Every length or count that does not add up to the payload is refused,
 * and the fds that came with it closed. */
TEST(inconsistent_headers_are_refused) {
    int fds = count_fds();
    for (int field = 0; field < 9; field++) {
        for (int delta = -1; delta <= 1; delta += 2) {
            struct proto_start h = good_header();
            uint32_t *f[] = {&h.nenv, &h.lib_len, &h.sym_len, &h.params_len, &h.names_len,
                             &h.env_len, &h.pname_len, &h.payload_len, &h.slot};
            if (field == 8) /* slots go up to OHNCP_MAX_CHILDREN_HARD - 1 */
                h.slot = delta < 0 ? UINT32_MAX : OHNCP_MAX_CHILDREN_HARD;
            else
                *f[field] += (uint32_t)delta;
            int report;
            struct child_req r;
            int rc = send_and_parse(&h, good_payload, sizeof good_payload, 1, &report, &r);
            if (rc == 0)
                fprintf(stderr, "field %d %+d taken\n", field, delta);
            CHECK_EQ(rc, -EINVAL);
            close(report);
        }
    }
    CHECK_EQ(count_fds(), fds);
}
