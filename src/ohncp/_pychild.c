/*
 * _pychild.c - the child library that runs Python in a native child process.
 *
 * Built by setup.py into ohncp/_lib/libohncp_pychild.so with the headers of
 * the Python the package is built for, but NOT linked to libpython: the
 * entry dlopen()s the libpython the parent names, so the child runs the very
 * interpreter the parent runs (a static python binary with a libpython of
 * its version beside it included). ohncp/_pool.py starts it; nothing else
 * should.
 *
 * Entry (args mode): "libohncp_pychild.so:OhncpPythonMain".
 *   entryParams: four lines, "<libpython>\n<sys.executable>\n<worker.py>\n
 *                <mode>", mode "pool" or "process" (ohncp/_worker.py).
 *   fds: "chan" (required) the parent's socket, framed and pickled messages;
 *        "out" (optional) becomes fds 1 and 2 (stdin becomes /dev/null),
 *        so that everything the child writes, Python's fatal errors
 *        included, reaches the parent's forwarder.
 * Exit status: the interpreter's (Py_RunMain); 120-123 for failures before
 * there is one (the message goes to fd 2 first).
 *
 * Constraint of the whole file: before Py_RunMain nothing here may touch
 * Python objects, and every libpython function is called through a pointer
 * found with dlsym, so the library loads (and can say what is wrong) even
 * where libpython cannot.
 */
#define _GNU_SOURCE /* dlopen flags, dup3 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

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
    EXIT_WRONG_VERSION = 122, /* libpython is not the version built against */
    EXIT_NO_STDIO = 123, /* the "out" fd could not become fds 1 and 2 */
};

/* The libpython functions used, as found with dlsym. */
typedef struct {
    const char *(*get_version)(void);
    void (*init_config)(PyConfig *);
    PyStatus (*set_bytes_string)(PyConfig *, wchar_t **, const char *);
    PyStatus (*set_bytes_argv)(PyConfig *, Py_ssize_t, char *const *);
    PyStatus (*initialize)(const PyConfig *);
    void (*clear_config)(PyConfig *);
    int (*status_exception)(PyStatus);
    void (*exit_status_exception)(PyStatus);
    int (*run_main)(void);
} PythonApi;

/* Python code run as `python -c`: load the worker by path (importing the
 * ohncp package would load its C extension and runtime, which a worker
 * needs not) and hand it the socket. argv: [-c, worker.py, fd, mode].
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
    FIND(init_config, "PyConfig_InitPythonConfig");
    FIND(set_bytes_string, "PyConfig_SetBytesString");
    FIND(set_bytes_argv, "PyConfig_SetBytesArgv");
    FIND(initialize, "Py_InitializeFromConfig");
    FIND(clear_config, "PyConfig_Clear");
    FIND(status_exception, "PyStatus_Exception");
    FIND(exit_status_exception, "Py_ExitStatusException");
    FIND(run_main, "Py_RunMain");
#undef FIND
    return 0;
}

/* PyConfig's layout is that of the version built against: refuse another. */
static int version_matches(const PythonApi *api)
{
    char expected[16];
    const char *got = api->get_version();
    int n = snprintf(expected, sizeof expected, "%d.%d.", PY_MAJOR_VERSION, PY_MINOR_VERSION);
    if (n > 0 && strncmp(got, expected, (size_t)n) == 0)
        return 1;
    dprintf(STDERR_FILENO,
            "ohncp python child: libpython is version %.20s, this ohncp was built for %s"
            "x; reinstall ohncp for this Python\n",
            got, expected);
    return 0;
}

/* Configure as `<executable> -u -c BOOTSTRAP worker fd mode` would start:
 * the same prefix, site-packages and venv as the parent, unbuffered stdio
 * (each print reaches the forwarder at once). */
static PyStatus configure(const PythonApi *api, PyConfig *config, char *const lines[4],
                          const char *fd)
{
    PyStatus status;
    char *argv[] = {"-c", lines[2], (char *)fd, lines[3]};

    api->init_config(config);
    config->parse_argv = 0;
    config->buffered_stdio = 0;
    status = api->set_bytes_string(config, &config->program_name, lines[1]);
    if (api->status_exception(status))
        return status;
    status = api->set_bytes_string(config, &config->executable, lines[1]);
    if (api->status_exception(status))
        return status;
    status = api->set_bytes_string(config, &config->run_command, BOOTSTRAP);
    if (api->status_exception(status))
        return status;
    return api->set_bytes_argv(config, 4, argv);
}

/* Split `params` in place into exactly 4 non-empty lines. */
static int split_params(char *params, char *lines[4])
{
    for (int i = 0; i < 4; i++) {
        lines[i] = params;
        params = strchr(params, '\n');
        if ((params == NULL) != (i == 3))
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
    char *lines[4];
    char fd_text[16];
    char *params = args.entryParams != NULL ? strdup(args.entryParams) : NULL;
    int chan = find_fd(&args, "chan");
    int out = find_fd(&args, "out");
    PythonApi api;
    PyConfig config;
    PyStatus status;
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
    if (!version_matches(&api))
        exit(EXIT_WRONG_VERSION);
    status = configure(&api, &config, lines, fd_text);
    if (!api.status_exception(status))
        status = api.initialize(&config);
    api.clear_config(&config);
    if (api.status_exception(status))
        api.exit_status_exception(status); /* prints why, exits */
    free(params);
    exit(api.run_main());
}
