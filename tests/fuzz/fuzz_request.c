/*
 * fuzz_request.c - libFuzzer target for the spawner's START parser
 * (src/request.c), built and run by scripts/fuzz.sh.
 *
 * Input: byte 0 is the number of fds that came with the message (mod 24,
 * the most recvmsg keeps); the rest is the message. The fds are dups of one
 * memfd holding the message's bytes after its header, so a request that
 * says its payload is in a memfd finds one. Whatever the parser makes of
 * it, every fd must be closed again (an fd leak ends the run: dup fails).
 */
#include "internal.h"
#include "spawner.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int memfd = -1;

static void fill_memfd(const uint8_t *msg, size_t len) {
    if (memfd < 0 && (memfd = memfd_create("fuzz-request", MFD_CLOEXEC)) < 0)
        abort();
    size_t skip = len < sizeof(struct proto_start) ? len : sizeof(struct proto_start);
    if (ftruncate(memfd, 0) < 0 ||
        pwrite(memfd, msg + skip, len - skip, 0) != (ssize_t)(len - skip))
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size == 0)
        return 0;
    int nfds = data[0] % (PROTO_FIXED_FDS + PROTO_MAX_FDS + 1);
    const uint8_t *msg = data + 1;
    size_t len = size - 1;
    fill_memfd(msg, len);
    int fds[PROTO_FIXED_FDS + PROTO_MAX_FDS];
    for (int i = 0; i < nfds; i++)
        if ((fds[i] = dup(memfd)) < 0)
            abort(); /* fds leaked by an earlier input */
    struct child_req r;
    if (request_take((const char *)msg, len, fds, nfds, false, &r) == 0) {
        /* What a child would use: every string ends inside the payload. */
        volatile size_t total = strlen(r.lib) + strlen(r.sym) + strlen(r.params) + strlen(r.pname);
        for (int i = 0; i < r.nfds; i++)
            total += strlen(r.names[i]);
        for (char **e = r.envp; *e != NULL; e++)
            total += strlen(*e);
        (void)total;
        request_close_fds(&r);
        request_free(&r);
    }
    return 0;
}
