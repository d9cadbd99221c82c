/* child_sandbox.c - a child that probes its own sandbox (isolated mode,
 * behaviour.md §5) and reports what it could and could not do.
 *
 * The parent describes what to try as "key=value;..." (params in args
 * mode, a string in IPC mode): ppid, other (another child's pid), port (a
 * TCP listener of the parent on 127.0.0.1), cwd (a directory the parent
 * can write), secret (a file only the parent's uid may read), unix (a
 * listening Unix socket of the parent). The answer
 * is "key=value;..." too: each probe gives "ok" or the errno's name, plus
 * uid, gid, nnp, the namespace ids and the interfaces seen.
 *
 * Args mode: Sandbox_Probe writes the answer to the fd named "out".
 * IPC mode: code 1 takes the string and replies the answer; code 3 ends
 * MainProc. */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <AbilityKit/native_child_process.h>
#include <IPCKit/ipc_kit.h>

struct out {
    char buf[4096];
    size_t len;
};

static void add(struct out *o, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void add(struct out *o, const char *key, const char *fmt, ...) {
    char val[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(val, sizeof val, fmt, ap);
    va_end(ap);
    int n = snprintf(o->buf + o->len, sizeof o->buf - o->len, "%s=%s;", key, val);
    if (n > 0 && (size_t)n < sizeof o->buf - o->len)
        o->len += (size_t)n;
}

static void result(struct out *o, const char *key, int rc) {
    add(o, key, "%s", rc == 0 ? "ok" : strerror(errno));
}

/* The value of `key` in "k=v;k=v", copied into `val`; "" if absent. */
static const char *param(const char *params, const char *key, char *val, size_t size) {
    size_t klen = strlen(key);
    val[0] = '\0';
    for (const char *p = params; p != NULL && *p != '\0';) {
        const char *end = strchr(p, ';');
        size_t len = end != NULL ? (size_t)(end - p) : strlen(p);
        if (len > klen && strncmp(p, key, klen) == 0 && p[klen] == '=') {
            snprintf(val, size, "%.*s", (int)(len - klen - 1), p + klen + 1);
            break;
        }
        p = end != NULL ? end + 1 : NULL;
    }
    return val;
}

static int try_connect(const char *ip, int port) {
    int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (s < 0)
        return -1;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    inet_pton(AF_INET, ip, &a.sin_addr);
    int rc = connect(s, (struct sockaddr *)&a, sizeof a);
    int err = errno;
    close(s);
    errno = err;
    return rc;
}

/* A TCP listener of our own on 127.0.0.1, and a connection to it. */
static int try_tcp_self(void) {
    int l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    int rc = l < 0 || bind(l, (struct sockaddr *)&a, sizeof a) < 0 || listen(l, 1) < 0 ||
                     getsockname(l, (struct sockaddr *)&a, &len) < 0
                 ? -1
                 : try_connect("127.0.0.1", ntohs(a.sin_port));
    int err = errno;
    if (l >= 0)
        close(l);
    errno = err;
    return rc;
}

static int try_unix(const char *path) {
    int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (s < 0)
        return -1;
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    snprintf(a.sun_path, sizeof a.sun_path, "%s", path);
    int rc = connect(s, (struct sockaddr *)&a, sizeof a);
    int err = errno;
    close(s);
    errno = err;
    return rc;
}

static int try_socketpair(void) {
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
        return -1;
    close(sv[0]);
    close(sv[1]);
    return 0;
}

static int try_create(const char *dir, const char *name) {
    char path[1024];
    snprintf(path, sizeof path, "%s/%s-%d", dir, name, (int)getpid());
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0)
        return -1;
    int ok = write(fd, "data", 4) == 4;
    close(fd);
    unlink(path);
    if (!ok)
        errno = EIO;
    return ok ? 0 : -1;
}

static int try_open(const char *path) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    close(fd);
    return 0;
}

/* PTRACE_SEIZE checks the same permission as PTRACE_ATTACH but does not
 * stop the tracee: a probe that succeeds (normal mode) leaves the parent
 * running, and our exit detaches it. */
static int try_ptrace(pid_t pid) {
    return ptrace(PTRACE_SEIZE, pid, 0, 0) < 0 ? -1 : 0;
}

static void namespaces(struct out *o) {
    static const char *const names[] = {"net", "mnt", "ipc", "uts", "user", "pid"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        char path[64], link[64] = "?";
        snprintf(path, sizeof path, "/proc/self/ns/%s", names[i]);
        ssize_t n = readlink(path, link, sizeof link - 1);
        link[n > 0 ? n : 1] = '\0';
        char key[16];
        snprintf(key, sizeof key, "ns_%s", names[i]);
        add(o, key, "%s", link);
    }
}

/* "CapPrm,CapEff,CapInh,CapAmb" from /proc/self/status, and securebits. */
static void capabilities(struct out *o) {
    char line[256], caps[128] = "";
    FILE *f = fopen("/proc/self/status", "r");
    while (f != NULL && fgets(line, sizeof line, f) != NULL) {
        char name[16], value[32];
        if (sscanf(line, "Cap%15[A-Za-z]: %31s", name, value) == 2 && strcmp(name, "Bnd") != 0)
            snprintf(caps + strlen(caps), sizeof caps - strlen(caps), "%s%s", caps[0] ? "," : "",
                     value);
    }
    if (f != NULL)
        fclose(f);
    add(o, "caps", "%s", caps);
    add(o, "securebits", "%d", prctl(PR_GET_SECUREBITS, 0, 0, 0, 0));
}

static void interfaces(struct out *o) {
    struct if_nameindex *ifs = if_nameindex();
    char list[256] = "";
    size_t len = 0;
    for (struct if_nameindex *i = ifs; i != NULL && i->if_index != 0; i++)
        len += (size_t)snprintf(list + len, sizeof list - len, "%s%s", len ? "," : "", i->if_name);
    if (ifs != NULL)
        if_freenameindex(ifs);
    add(o, "ifaces", "%s", list);
}

static void probe(const char *params, struct out *o) {
    char v[1024];
    pid_t ppid = (pid_t)atoi(param(params, "ppid", v, sizeof v));
    pid_t other = (pid_t)atoi(param(params, "other", v, sizeof v));
    int port = atoi(param(params, "port", v, sizeof v));
    add(o, "uid", "%u", (unsigned)getuid());
    add(o, "gid", "%u", (unsigned)getgid());
    add(o, "nnp", "%d", prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0));
    namespaces(o);
    interfaces(o);
    capabilities(o);
    result(o, "tcp_local", try_connect("127.0.0.1", port));
    result(o, "tcp_outside", try_connect("1.1.1.1", 80));
    result(o, "tcp_self", try_tcp_self());
    result(o, "unix_parent", try_unix(param(params, "unix", v, sizeof v)));
    result(o, "socketpair", try_socketpair());
    result(o, "write_cwd", try_create(param(params, "cwd", v, sizeof v), "probe"));
    result(o, "write_tmp", try_create("/tmp", "ohncp-probe"));
    const char *data = getenv("OHNCP_DATA_DIR");
    add(o, "data_dir", "%s", data != NULL ? data : "");
    int entries = 0;
    DIR *d = data != NULL ? opendir(data) : NULL;
    for (struct dirent *e; d != NULL && (e = readdir(d)) != NULL;)
        entries += e->d_name[0] != '.';
    if (d != NULL)
        closedir(d);
    add(o, "data_entries", "%d", entries);
    result(o, "write_data", data != NULL ? try_create(data, "probe") : (errno = ENOENT, -1));
    if (data != NULL) { /* left behind on purpose: the parent must not see it */
        char path[1024];
        snprintf(path, sizeof path, "%s/left-behind", data);
        int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
        if (fd >= 0)
            close(fd);
    }
    result(o, "kill_parent", kill(ppid, 0));
    result(o, "kill_other", other > 0 ? kill(other, 0) : (errno = ESRCH, -1));
    result(o, "kill_self", kill(getpid(), 0));
    result(o, "ptrace_parent", try_ptrace(ppid));
    result(o, "ptrace_other", other > 0 ? try_ptrace(other) : (errno = ESRCH, -1));
    snprintf(v, sizeof v, "/proc/%d/mem", (int)ppid);
    result(o, "mem_parent", try_open(v));
    param(params, "secret", v, sizeof v);
    result(o, "read_secret", v[0] != '\0' ? try_open(v) : (errno = ENOENT, -1));
}

static int fd_named(NativeChildProcess_Args args, const char *name) {
    for (NativeChildProcess_Fd *n = args.fdList.head; n != NULL; n = n->next)
        if (strcmp(n->fdName, name) == 0)
            return n->fd;
    return -1;
}

void Sandbox_Probe(NativeChildProcess_Args args) {
    struct out o = {.len = 0};
    probe(args.entryParams, &o);
    int fd = fd_named(args, "out");
    if (fd >= 0)
        (void)!write(fd, o.buf, o.len);
}

/* Stays alive (and reports its uid) until the fd named "in" reaches EOF. */
void Sandbox_Hold(NativeChildProcess_Args args) {
    char buf[32];
    int n = snprintf(buf, sizeof buf, "%u\n", (unsigned)getuid());
    int out = fd_named(args, "out"), in = fd_named(args, "in");
    if (out >= 0)
        (void)!write(out, buf, (size_t)n);
    while (in >= 0 && read(in, buf, 1) > 0)
        ;
}

/* ---- IPC mode ---- */

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cond = PTHREAD_COND_INITIALIZER;
static int done;

static int on_request(uint32_t code, const OHIPCParcel *data, OHIPCParcel *reply, void *user) {
    (void)user;
    if (code == 3) {
        pthread_mutex_lock(&lock);
        done = 1;
        pthread_cond_signal(&cond);
        pthread_mutex_unlock(&lock);
        return 0;
    }
    if (code != 1)
        return OH_IPC_CODE_OUT_OF_RANGE;
    const char *params = OH_IPCParcel_ReadString(data);
    if (params == NULL)
        return OH_IPC_PARCEL_READ_ERROR;
    struct out o = {.len = 0};
    probe(params, &o);
    return OH_IPCParcel_WriteString(reply, o.buf);
}

OHIPCRemoteStub *NativeChildProcess_OnConnect(void) {
    return OH_IPCRemoteStub_Create("ohncp.test.Sandbox", on_request, NULL, NULL);
}

void NativeChildProcess_MainProc(void) {
    pthread_mutex_lock(&lock);
    while (!done)
        pthread_cond_wait(&cond, &lock);
    pthread_mutex_unlock(&lock);
}
