/*
 * _pychild.c - the child library that runs Python in a native child process.
 *
 * Built by setup.py into ohncp/_lib/libohncp_pychild.so, NOT linked to
 * libpython and without Python's headers: the entry dlopen()s the libpython
 * the parent names, so the child runs the very interpreter the parent runs,
 * and it starts it with Py_BytesMain (the `python` command's own main, the
 * same function since 3.8), whose signature does not change between
 * versions. So one build serves every Python 3.10+ (the wheel is abi3).
 * ohncp/_pool.py starts it; nothing else should.
 *
 * Entry (args mode): "libohncp_pychild.so:OhncpPythonMain".
 *   entryParams: five lines, "<libpython>\n<sys.executable>\n<worker.py>\n
 *                <mode>\n<version>", mode "pool" or "process"
 *                (ohncp/_worker.py), version the parent's "3.N." prefix of
 *                Py_GetVersion().
 *   fds: "chan" (required) the parent's socket, framed and pickled messages;
 *        "out" (optional) becomes fds 1 and 2 (stdin becomes /dev/null),
 *        so that everything the child writes, Python's fatal errors
 *        included, reaches the parent's forwarder.
 * Exit status: the interpreter's (Py_BytesMain); 120-123 for failures
 * before there is one (the message goes to fd 2 first).
 *
 * Constraint of the whole file: nothing here touches Python objects, and the
 * two libpython functions used are called through pointers found with
 * dlsym, so the library loads (and can say what is wrong) even where
 * libpython cannot.
 */
#define _GNU_SOURCE /* dlopen flags, dup3 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "native_child_process.h"

enum {
    EXIT_BAD_PARAMS = 120, /* entryParams or fds are not what _pool.py sends */
    EXIT_NO_LIBPYTHON = 121, /* dlopen or a dlsym failed */
    EXIT_WRONG_VERSION = 122, /* libpython is not the parent's version */
    EXIT_NO_STDIO = 123, /* the "out" fd could not become fds 1 and 2 */
};

/* The libpython functions used, as found with dlsym. */
typedef struct {
    const char *(*get_version)(void);
    int (*bytes_main)(int argc, char **argv);
} PythonApi;

/* Python code run as `python -u -c`: load the worker by path (importing the
 * ohncp package would load its C extension and runtime, which a worker
 * needs not) and hand it the socket. sys.argv: [-c, worker.py, fd, mode].
 * importlib's frozen halves are loaded at every start already;
 * importlib.util would cost ~4 ms more. */
static const char BOOTSTRAP[] =
    "import sys, _frozen_importlib as b, _frozen_importlib_external as e\n"
    "s = e.spec_from_file_location('_ohncp_worker', sys.argv[1])\n"
    "m = b.module_from_spec(s)\n"
    "sys.modules[s.name] = m\n"
    "s.loader.exec_module(m)\n"
    "m.main(int(sys.argv[2]), sys.argv[3])\n";

static void say(const char *what, const char *detail)
{
    dprintf(STDERR_FILENO, "ohncp python child: %s%s%s\n", what, detail ? ": " : "",
            detail ? detail : "");
}

/* The fd passed under `name`, or -1. */
static int find_fd(const NativeChildProcess_Args *args, const char *name)
{
    for (const NativeChildProcess_Fd *node = args->fdList.head; node != NULL;
         node = node->next)
        if (node->fdName != NULL && strcmp(node->fdName, name) == 0)
            return node->fd;
    return -1;
}

static int dup_onto(int from, int to)
{
    int rc;
    do
        rc = dup2(from, to);
    while (rc < 0 && errno == EINTR);
    return rc;
}

/* Fds 1 and 2 to `out`, fd 0 to /dev/null; `out` itself closed. */
static int redirect_stdio(int out)
{
    int null = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (null < 0 || dup_onto(null, STDIN_FILENO) < 0 || dup_onto(out, STDOUT_FILENO) < 0 ||
        dup_onto(out, STDERR_FILENO) < 0)
        return -1;
    close(null);
    if (out > STDERR_FILENO)
        close(out);
    return 0;
}

static int find_symbols(void *handle, PythonApi *api)
{
    /* POSIX allows object <-> function pointer conversion for dlsym. */
#define FIND(field, name)                                                                      \
    do {                                                                                       \
        void *sym = dlsym(handle, name);                                                       \
        if (sym == NULL) {                                                                     \
            say("libpython lacks " name, dlerror());                                           \
            return -1;                                                                         \
        }                                                                                      \
        memcpy(&api->field, &sym, sizeof sym);                                                 \
    } while (0)
    FIND(get_version, "Py_GetVersion");
    FIND(bytes_main, "Py_BytesMain");
#undef FIND
    return 0;
}

/* The libpython named must be of the parent's version ("3.N."): another's
 * interpreter would start with the parent's prefix and site-packages. */
static int version_matches(const PythonApi *api, const char *expected)
{
    const char *got = api->get_version();
    if (strncmp(got, expected, strlen(expected)) == 0)
        return 1;
    dprintf(STDERR_FILENO,
            "ohncp python child: libpython is version %.20s, the parent runs %sx\n", got,
            expected);
    return 0;
}

/* Split `params` in place into exactly NLINES non-empty lines. */
enum { NLINES = 5 };
static int split_params(char *params, char *lines[NLINES])
{
    for (int i = 0; i < NLINES; i++) {
        lines[i] = params;
        params = strchr(params, '\n');
        if ((params == NULL) != (i == NLINES - 1))
            return -1;
        if (params != NULL)
            *params++ = '\0';
        if (lines[i][0] == '\0')
            return -1;
    }
    return 0;
}

void OhncpPythonMain(NativeChildProcess_Args args)
{
    char *lines[NLINES];
    char fd_text[16];
    char *params = args.entryParams != NULL ? strdup(args.entryParams) : NULL;
    int chan = find_fd(&args, "chan");
    int out = find_fd(&args, "out");
    PythonApi api;
    void *handle;

    if (out >= 0 && redirect_stdio(out) < 0) {
        say("cannot redirect stdio", strerror(errno));
        exit(EXIT_NO_STDIO);
    }
    if (params == NULL || chan < 0 || split_params(params, lines) < 0) {
        say("bad entry parameters", NULL);
        exit(EXIT_BAD_PARAMS);
    }
    snprintf(fd_text, sizeof fd_text, "%d", chan);
    /* A pool worker leaves Ctrl-C to the parent (which shuts the pool
     * down); Python keeps a SIGINT it finds ignored. */
    if (strcmp(lines[3], "pool") == 0 && signal(SIGINT, SIG_IGN) == SIG_ERR) {
        say("cannot ignore SIGINT", strerror(errno));
        exit(EXIT_BAD_PARAMS);
    }
    /* The runtime loads this library RTLD_LOCAL; extension modules (which
     * do not link libpython) need its symbols in the global scope. */
    handle = dlopen(lines[0], RTLD_NOW | RTLD_GLOBAL);
    if (handle == NULL) {
        say("cannot load libpython", dlerror());
        exit(EXIT_NO_LIBPYTHON);
    }
    if (find_symbols(handle, &api) < 0)
        exit(EXIT_NO_LIBPYTHON);
    if (!version_matches(&api, lines[4]))
        exit(EXIT_WRONG_VERSION);
    /* As `<sys.executable> -u -c BOOTSTRAP worker.py fd mode` would start:
     * the program name is the parent's executable, from which Python finds
     * the same prefix, site-packages and venv; -u: each print reaches the
     * forwarder at once. */
    char *argv[] = {lines[1], (char *)"-u", (char *)"-c", (char *)BOOTSTRAP, lines[2], fd_text,
                    lines[3], NULL};
    exit(api.bytes_main(7, argv));
}
