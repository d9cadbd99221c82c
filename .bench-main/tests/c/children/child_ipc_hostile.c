/* child_ipc_hostile.c - connects normally, then sends its parent malformed
 * messages on the IPC channel (which, by OHNCP_TEST_HOSTILE, below). The
 * parent must drop the connection and carry on. */
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <IPCKit/ipc_kit.h>

#include "ipc_transport.h"

static int ignore(uint32_t c, const OHIPCParcel *d, OHIPCParcel *r, void *u) {
    (void)c, (void)d, (void)r, (void)u;
    return 0;
}

OHIPCRemoteStub *NativeChildProcess_OnConnect(void) {
    return OH_IPCRemoteStub_Create("ohncp.test.Hostile", ignore, NULL, NULL);
}

/* The channel: our only SOCK_SEQPACKET socket. */
static int channel(void) {
    for (int fd = 3; fd < 1024; fd++) {
        int type;
        socklen_t len = sizeof type;
        if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) == 0 && type == SOCK_SEQPACKET)
            return fd;
    }
    return -1;
}

static void send_raw(int fd, const void *buf, size_t len, const int *fds, int nfds) {
    struct iovec iov = {(void *)buf, len};
    union {
        char b[CMSG_SPACE(sizeof(int) * 8)];
        struct cmsghdr a;
    } u;
    struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1};
    if (nfds > 0) {
        msg.msg_control = u.b;
        msg.msg_controllen = CMSG_SPACE(sizeof(int) * (size_t)nfds);
        struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(sizeof(int) * (size_t)nfds);
        memcpy(CMSG_DATA(c), fds, sizeof(int) * (size_t)nfds);
    }
    (void)sendmsg(fd, &msg, MSG_NOSIGNAL);
}

void NativeChildProcess_MainProc(void) {
    const char *mode = getenv("OHNCP_TEST_HOSTILE");
    int fd = channel();
    struct ipc_wire_hdr h = {IPC_MAGIC, IPC_MSG_REQUEST, 0, 1, 1, 1, 0, 0};
    unsigned char junk[512];
    for (size_t i = 0; i < sizeof junk; i++)
        junk[i] = (unsigned char)(i * 37 + 11);
    if (mode == NULL || fd < 0) {
    } else if (strcmp(mode, "garbage") == 0) {
        send_raw(fd, junk, sizeof junk, NULL, 0);
    } else if (strcmp(mode, "short") == 0) {
        send_raw(fd, &h, 10, NULL, 0);
    } else if (strcmp(mode, "huge") == 0) {
        h.data_len = 100u << 20; /* says 100 MiB, sends none */
        send_raw(fd, &h, sizeof h, NULL, 0);
    } else if (strcmp(mode, "badobj") == 0) {
        struct { struct ipc_wire_hdr h; struct ipc_wire_obj o; uint32_t slot[2]; } m = {
            h, {PARCEL_OBJECT_PROXY, 0, IPC_OWNER_RECEIVER, 999}, {PARCEL_OBJECT_PROXY, 0}};
        m.h.nobjs = 1;
        m.h.data_len = 8;
        send_raw(fd, &m, sizeof m, NULL, 0);
    } else if (strcmp(mode, "fds") == 0) { /* fds where none were announced */
        int fds[3] = {0, 1, 2};
        send_raw(fd, &h, sizeof h, fds, 3);
    } else if (strcmp(mode, "magic") == 0) {
        h.magic = 0xdeadbeef;
        send_raw(fd, &h, sizeof h, NULL, 0);
    } else if (strcmp(mode, "release") == 0) { /* releases what it never got */
        struct ipc_wire_hdr r = {IPC_MAGIC, IPC_MSG_RELEASE, 0, 0, 12345, -5, 0, 0};
        send_raw(fd, &r, sizeof r, NULL, 0);
    }
    for (;;)
        pause();
}
