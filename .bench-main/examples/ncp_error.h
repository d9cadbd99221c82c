/* ncp_error.h - how the examples say why a call failed: the error's name,
 * and on the ohncp host runtime its explanation (which argument, which
 * dlopen error). Device code can use it as it is: the explanation is left
 * out where <ohncp_ext.h> does not exist. */
#ifndef EXAMPLES_NCP_ERROR_H
#define EXAMPLES_NCP_ERROR_H

#include <stdio.h>

#include <AbilityKit/native_child_process.h>
#if defined(__has_include)
#if __has_include(<ohncp_ext.h>)
#include <ohncp_ext.h>
#endif
#endif

static inline const char *ncp_error_name(int code) {
    switch (code) {
    case NCP_NO_ERROR: return "NCP_NO_ERROR";
    case NCP_ERR_INVALID_PARAM: return "NCP_ERR_INVALID_PARAM";
    case NCP_ERR_NOT_SUPPORTED: return "NCP_ERR_NOT_SUPPORTED";
    case NCP_ERR_INTERNAL: return "NCP_ERR_INTERNAL";
    case NCP_ERR_BUSY: return "NCP_ERR_BUSY";
    case NCP_ERR_TIMEOUT: return "NCP_ERR_TIMEOUT";
    case NCP_ERR_SERVICE_ERROR: return "NCP_ERR_SERVICE_ERROR";
    case NCP_ERR_MULTI_PROCESS_DISABLED: return "NCP_ERR_MULTI_PROCESS_DISABLED";
    case NCP_ERR_ALREADY_IN_CHILD: return "NCP_ERR_ALREADY_IN_CHILD";
    case NCP_ERR_MAX_CHILD_PROCESSES_REACHED: return "NCP_ERR_MAX_CHILD_PROCESSES_REACHED";
    case NCP_ERR_LIB_LOADING_FAILED: return "NCP_ERR_LIB_LOADING_FAILED";
    case NCP_ERR_CONNECTION_FAILED: return "NCP_ERR_CONNECTION_FAILED";
    case NCP_ERR_CALLBACK_NOT_EXIST: return "NCP_ERR_CALLBACK_NOT_EXIST";
    case NCP_ERR_INVALID_PID: return "NCP_ERR_INVALID_PID";
    default: return "an unknown error";
    }
}

/* Print "<what> failed: NAME (code)[: explanation]" to stderr. Call it on
 * the thread that made the failing call, right after it. */
static inline void ncp_print_error(const char *what, int code) {
    const char *why = "";
#ifdef OHNCP_HOST_RUNTIME
    why = OH_Ohncp_GetLastErrorMessage();
#endif
    fprintf(stderr, "%s failed: %s (%d)%s%s\n", what, ncp_error_name(code), code,
            why[0] != '\0' ? ": " : "", why);
}

#endif /* EXAMPLES_NCP_ERROR_H */
