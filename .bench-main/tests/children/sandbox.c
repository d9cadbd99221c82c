/*
 * sandbox.c - a child library that probes its own sandbox, for
 * tests/test_isolation.py (isolated mode, behaviour.md §5).
 *
 * The parent passes "ppid;port;dir;secret": its pid, a TCP port it listens
 * on at 127.0.0.1, a directory it can write, and a file only its uid can
 * read. The answer is "key=value;..." where each probe is "ok" or the
 * errno's name, plus uid, nnp (no_new_privs) and netns (the namespace link).
 *
 *   Probe      args mode: writes the answer to the fd named "out"
 *   Hold       args mode: writes "r" to "out", returns at EOF on "in"
 *   IPC mode:  request 1 with the same string -> the answer as a string;
 *              request 2 -> MainProc returns
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <unistd.h>

#include <AbilityKit/native_child_process.h>
#include <IPCKit/ipc_kit.h>

static void put(char *out, size_t size, const char *key, int rc)
{
    size_t len = strlen(out);
    snprintf(out + len, size - len, "%s=%s;", key, rc == 0 ? "ok" : strerror(errno));
}

static int tcp(int port)
{
    int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    int rc = s < 0 ? -1 : connect(s, (struct sockaddr *)&a, sizeof a);
    int err = errno;
    if (s >= 0)
        close(s);
    errno = err;
    return rc;
}

static int create_in(const char *dir)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/probe-%d", dir != NULL ? dir : "/nonexistent", (int)getpid());
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0)
        return -1;
    close(fd);
    unlink(path);
    return 0;
}

static int readable(const char *path)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd >= 0)
        close(fd);
    return fd < 0 ? -1 : 0;
}

/* PTRACE_SEIZE: the same permission check as PTRACE_ATTACH, but the
 * tracee is not stopped (our exit detaches it). */
static int attach(pid_t pid)
{
    return ptrace(PTRACE_SEIZE, pid, 0, 0) < 0 ? -1 : 0;
}

static void probe(const char *params, char *out, size_t size)
{
    int ppid = 0, port = 0;
    char dir[512] = "", secret[512] = "", ns[64] = "";
    sscanf(params, "%d;%d;%511[^;];%511[^;]", &ppid, &port, dir, secret);
    ssize_t n = readlink("/proc/self/ns/net", ns, sizeof ns - 1);
    ns[n > 0 ? n : 0] = '\0';
    snprintf(out, size, "uid=%u;nnp=%d;netns=%s;", (unsigned)getuid(),
             prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0), ns);
    put(out, size, "tcp_local", tcp(port));
    put(out, size, "write_dir", create_in(dir));
    put(out, size, "write_tmp", create_in("/tmp"));
    put(out, size, "write_data", create_in(getenv("OHNCP_DATA_DIR")));
    put(out, size, "kill_parent", kill(ppid, 0));
    put(out, size, "ptrace_parent", attach(ppid));
    put(out, size, "read_secret", readable(secret));
}

void Probe(NativeChildProcess_Args args)
{
    char out[2048];
    probe(args.entryParams, out, sizeof out);
    for (NativeChildProcess_Fd *f = args.fdList.head; f != NULL; f = f->next)
        if (strcmp(f->fdName, "out") == 0)
            (void)!write(f->fd, out, strlen(out));
}

void Hold(NativeChildProcess_Args args)
{
    char c;
    for (NativeChildProcess_Fd *f = args.fdList.head; f != NULL; f = f->next)
        if (strcmp(f->fdName, "out") == 0)
            (void)!write(f->fd, "r", 1);
    for (NativeChildProcess_Fd *f = args.fdList.head; f != NULL; f = f->next)
        while (strcmp(f->fdName, "in") == 0 && read(f->fd, &c, 1) > 0)
            ;
}

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cond = PTHREAD_COND_INITIALIZER;
static int done;

static int on_request(uint32_t code, const OHIPCParcel *data, OHIPCParcel *reply, void *user)
{
    (void)user;
    if (code == 2) {
        pthread_mutex_lock(&lock);
        done = 1;
        pthread_cond_signal(&cond);
        pthread_mutex_unlock(&lock);
        return 0;
    }
    const char *params = OH_IPCParcel_ReadString(data);
    if (code != 1 || params == NULL)
        return OH_IPC_PARCEL_READ_ERROR;
    char out[2048];
    probe(params, out, sizeof out);
    return OH_IPCParcel_WriteString(reply, out);
}

OHIPCRemoteStub *NativeChildProcess_OnConnect(void)
{
    return OH_IPCRemoteStub_Create("ohncp.test.Sandbox", on_request, NULL, NULL);
}

void NativeChildProcess_MainProc(void)
{
    pthread_mutex_lock(&lock);
    while (!done)
        pthread_cond_wait(&cond, &lock);
    pthread_mutex_unlock(&lock);
}
