/*
 * embed_python.c - an args-mode entry that runs Python inside the child.
 *
 * conftest.py builds it against libpython (it is not in tests/children/
 * because it needs the interpreter's flags). entryParams is
 * "<python executable>\n<code>": the interpreter starts as that executable
 * would (so a venv's site-packages are found), runs the code, and the child
 * exits 0 if it ran without an exception, 1 otherwise. OHNCP_TEST_LIBPYTHON
 * is the file name of libpython, given on the compiler's command line.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <dlfcn.h>
#include <stdlib.h>
#include <string.h>

#include "native_child_process.h"

void RunPython(NativeChildProcess_Args args)
{
    char *params = args.entryParams != NULL ? strdup(args.entryParams) : NULL;
    char *code = params != NULL ? strchr(params, '\n') : NULL;
    PyConfig config;
    PyStatus status;
    int rc;

    if (code == NULL)
        exit(2);
    /* The runtime loads this library (and so libpython) with RTLD_LOCAL;
     * Python's extension modules need its symbols global. */
    if (dlopen(OHNCP_TEST_LIBPYTHON, RTLD_NOW | RTLD_GLOBAL | RTLD_NOLOAD) == NULL)
        exit(4);
    *code++ = '\0';
    PyConfig_InitPythonConfig(&config);
    status = PyConfig_SetBytesString(&config, &config.program_name, params);
    if (!PyStatus_Exception(status))
        status = Py_InitializeFromConfig(&config);
    PyConfig_Clear(&config);
    if (PyStatus_Exception(status))
        exit(3);
    rc = PyRun_SimpleString(code);
    if (Py_FinalizeEx() < 0)
        rc = -1;
    free(params);
    exit(rc == 0 ? 0 : 1);
}
