/*
 * request.c - receiving and checking one PROTO_START (proto.h).
 *
 * Used by the standby child (which takes requests straight off the start
 * socket) and by the spawner's own fallback path. The sender is our own
 * parent, but the parser holds against any bytes (tests/fuzz/): every size
 * and count in the header is checked against the bytes that came (header
 * first, check_header) before anything is allocated or added up from it.
 */
#include "internal.h"
#include "spawner.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Each section must be exactly `count` NUL-terminated strings filling `len`. */
static const char *take_strings(const char **p, const char *end, uint32_t len, uint32_t count,
                                const char **out) {
    const char *start = *p;
    if (len > (size_t)(end - start))
        return NULL;
    const char *q = start, *stop = start + len;
    for (uint32_t i = 0; i < count; i++) {
        const char *nul = memchr(q, '\0', (size_t)(stop - q));
        if (nul == NULL)
            return NULL;
        if (out != NULL)
            out[i] = q;
        q = nul + 1;
    }
    if (q != stop)
        return NULL;
    *p = stop;
    return start;
}

/* The header alone: sections that add up to the payload (in 64 bits: six
 * uint32 cannot overflow it), counts no larger than their sections (each
 * string takes a byte at least), a slot the runtime can have. */
static int check_header(const struct proto_start *h) {
    uint64_t sum = (uint64_t)h->lib_len + h->sym_len + h->params_len + h->names_len + h->env_len +
                   h->pname_len;
    if (h->payload_len > PROTO_PAYLOAD_MAX || sum != h->payload_len)
        return -1;
    if (h->nfds > PROTO_MAX_FDS || h->nfds > h->names_len || h->nenv > h->env_len)
        return -1;
    return h->slot < OHNCP_MAX_CHILDREN_HARD ? 0 : -1;
}

static int parse_sections(const struct proto_start *h, struct child_req *r) {
    const char *p = r->payload, *end = r->payload + h->payload_len;
    r->envp = calloc((size_t)h->nenv + 1, sizeof(char *));
    if (r->envp == NULL)
        return -1;
    if ((r->lib = take_strings(&p, end, h->lib_len, 1, NULL)) == NULL ||
        (r->sym = take_strings(&p, end, h->sym_len, 1, NULL)) == NULL ||
        (r->params = take_strings(&p, end, h->params_len, 1, NULL)) == NULL ||
        take_strings(&p, end, h->names_len, h->nfds, r->names) == NULL ||
        take_strings(&p, end, h->env_len, h->nenv, (const char **)r->envp) == NULL ||
        (r->pname = take_strings(&p, end, h->pname_len, 1, NULL)) == NULL || p != end)
        return -1;
    return 0;
}

/* Assign the received fds to their roles (proto.h order). */
static int assign_fds(const struct proto_start *h, struct child_req *r, const int *fds, int n,
                      int *memfd) {
    if (h->nfds > PROTO_MAX_FDS) /* first: the sum below stays small */
        return -1;
    int want = 2 + __builtin_popcount(h->std_mask & 7u) + (h->flags & PROTO_F_MEMFD ? 1 : 0) +
               (h->flags & PROTO_F_IPC ? 1 : 0) + (int)h->nfds;
    if (n != want)
        return -1;
    int k = 0;
    r->report_fd = fds[k++];
    r->cwd_fd = fds[k++];
    for (int i = 0; i < 3; i++)
        r->std_fds[i] = h->std_mask & (1u << i) ? fds[k++] : -1;
    *memfd = h->flags & PROTO_F_MEMFD ? fds[k++] : -1;
    r->ipc = h->flags & PROTO_F_IPC;
    r->channel_fd = r->ipc ? fds[k++] : -1;
    r->isolated = h->flags & PROTO_F_ISOLATED;
    r->own_uid = r->isolated && (h->flags & PROTO_F_OWN_UID);
    r->caller_cpu = (int)(h->flags >> PROTO_CPU_SHIFT) - 1;
    r->nfds = (int)h->nfds;
    for (int i = 0; i < r->nfds; i++)
        r->fds[i] = fds[k++];
    return 0;
}

static int load_payload(const struct proto_start *h, const char *inline_data, size_t inline_len,
                        int memfd, struct child_req *r) {
    struct stat st;
    if (memfd < 0 && inline_len != h->payload_len)
        return -1;
    if (memfd >= 0 && (fstat(memfd, &st) < 0 || st.st_size < (off_t)h->payload_len))
        return -1; /* the memfd has fewer bytes than claimed */
    r->payload = malloc(h->payload_len ? h->payload_len : 1);
    if (r->payload == NULL)
        return -1;
    if (memfd < 0) {
        memcpy(r->payload, inline_data, inline_len);
        return 0;
    }
    ssize_t got;
    do
        got = pread(memfd, r->payload, h->payload_len, 0);
    while (got < 0 && errno == EINTR);
    return got == (ssize_t)h->payload_len ? 0 : -1;
}

void request_report(int fd, int code, const char *msg) {
    struct proto_report rep = {.code = code, .pid = 0};
    strncpy(rep.msg, msg, sizeof rep.msg - 1);
    (void)sys_write_all(fd, &rep, sizeof rep);
}

/* Check the header and payload of a received message whose fds are
 * `fds[0..nfds)`; on success `r` owns them but the memfd, closed here (on
 * failure the caller closes them all). */
static int request_parse(const char *buf, size_t n, const int *fds, int nfds,
                         struct child_req *r) {
    struct proto_start h;
    int memfd = -1;
    if (n < sizeof h)
        return -EINVAL;
    memcpy(&h, buf, sizeof h);
    if (h.type != PROTO_START || assign_fds(&h, r, fds, nfds, &memfd) < 0) {
        request_init(r); /* the caller closes the fds */
        return -EINVAL;
    }
    r->slot = h.slot;
    r->gen = h.gen;
    r->rlim_mask = h.rlim_mask;
    for (int i = 0; i < PROTO_NRLIMITS; i++)
        r->rlim[i] = (struct rlimit){(rlim_t)h.rlim[i].cur, (rlim_t)h.rlim[i].max};
    int rc = check_header(&h) < 0 || load_payload(&h, buf + sizeof h, n - sizeof h, memfd, r) < 0 ||
                     parse_sections(&h, r) < 0
                 ? -EINVAL
                 : 0;
    if (rc < 0) {
        request_report(r->report_fd, NCP_ERR_INTERNAL, "spawner: malformed start request");
        request_free(r);
        request_init(r); /* the caller closes the fds, the memfd among them */
        return rc;
    }
    sys_close(memfd);
    return 0;
}

int request_take(const char *buf, size_t n, const int *fds, int nfds, bool truncated,
                 struct child_req *r) {
    request_init(r);
    int rc = truncated ? -EINVAL : request_parse(buf, n, fds, nfds, r);
    if (rc < 0) {
        for (int i = 0; i < nfds; i++)
            sys_close(fds[i]);
        request_free(r);
        request_init(r);
    }
    return rc;
}

int request_receive(int sock, int flags, struct child_req *r) {
    static char buf[sizeof(struct proto_start) + PROTO_INLINE_MAX];
    union {
        char c[CMSG_SPACE(sizeof(int) * (PROTO_FIXED_FDS + PROTO_MAX_FDS))];
        struct cmsghdr align;
    } u;
    struct iovec iov = {.iov_base = buf, .iov_len = sizeof buf};
    struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.c,
                         .msg_controllen = sizeof u.c};
    request_init(r);
    ssize_t n = sys_recvmsg(sock, &msg, flags);
    if (n < 0)
        return (int)n;
    if (n == 0)
        return -EPIPE;
    int fds[PROTO_FIXED_FDS + PROTO_MAX_FDS], nfds = 0;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c != NULL; c = CMSG_NXTHDR(&msg, c)) {
        if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
            continue;
        int k = (int)((c->cmsg_len - CMSG_LEN(0)) / sizeof(int));
        if (k > PROTO_FIXED_FDS + PROTO_MAX_FDS - nfds)
            k = PROTO_FIXED_FDS + PROTO_MAX_FDS - nfds; /* MSG_CTRUNC below */
        memcpy(fds + nfds, CMSG_DATA(c), sizeof(int) * (size_t)k);
        nfds += k;
    }
    return request_take(buf, (size_t)n, fds, nfds, msg.msg_flags & (MSG_CTRUNC | MSG_TRUNC), r);
}

void request_init(struct child_req *r) {
    *r = (struct child_req){.report_fd = -1, .cwd_fd = -1, .std_fds = {-1, -1, -1},
                            .channel_fd = -1};
}

void request_close_fds(struct child_req *r) {
    sys_closep(&r->report_fd);
    sys_closep(&r->cwd_fd);
    sys_closep(&r->channel_fd);
    for (int i = 0; i < 3; i++)
        sys_closep(&r->std_fds[i]);
    for (int i = 0; i < r->nfds; i++)
        sys_closep(&r->fds[i]);
}

void request_free(struct child_req *r) {
    free(r->envp);
    free(r->payload);
    r->envp = NULL;
    r->payload = NULL;
}
