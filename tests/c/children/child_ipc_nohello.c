/* child_ipc_nohello.c - reports "connected" but withholds its HELLO: in
 * OnConnect it puts a socket of its own in place of the channel (keeping
 * the real one open and silent), so the runtime's HELLO goes nowhere. Its
 * MainProc touches $OHNCP_TEST_MARKER, then returns (and the child exits)
 * once $OHNCP_TEST_MARKER.release exists. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include <IPCKit/ipc_kit.h>

static int ignore(uint32_t c, const OHIPCParcel *d, OHIPCParcel *r, void *u) {
    (void)c, (void)d, (void)r, (void)u;
    return 0;
}

static int real_channel = -1; /* kept open: the parent sees no end */

OHIPCRemoteStub *NativeChildProcess_OnConnect(void) {
    int sv[2];
    for (int fd = 3; fd < 1024; fd++) {
        int type;
        socklen_t len = sizeof type;
        if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) == 0 && type == SOCK_SEQPACKET &&
            socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) == 0) {
            real_channel = fcntl(fd, F_DUPFD_CLOEXEC, 0);
            (void)dup3(sv[0], fd, O_CLOEXEC);
            break;
        }
    }
    return OH_IPCRemoteStub_Create("ohncp.test.NoHello", ignore, NULL, NULL);
}

void NativeChildProcess_MainProc(void) {
    const char *marker = getenv("OHNCP_TEST_MARKER");
    if (marker == NULL)
        return;
    char release[4096];
    snprintf(release, sizeof release, "%s.release", marker);
    int fd = open(marker, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
    if (fd >= 0)
        close(fd);
    for (int i = 0; i < 6000 && access(release, F_OK) != 0; i++)
        usleep(10000);
    (void)real_channel;
}
