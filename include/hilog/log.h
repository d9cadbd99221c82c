/*
 * hilog/log.h - the HiLog C API of the OpenHarmony SDK (hiviewdfx), for the
 * host library libhilog_ndk.z.so (link with -lhilog_ndk.z, as on a device).
 *
 * Declarations match the SDK's, so code that logs builds unchanged. On the
 * host a line goes to stderr, or is appended to the file named by
 * OHNCP_HILOG_FILE, as
 *     MM-DD HH:MM:SS.mmm  <pid>  <tid> <D|I|W|E|F> A0<domain, 4 hex digits>/<tag>: <text>
 * The format is printf's with a privacy flag after the '%': %{public}s is
 * shown, %{private}d and a conversion with no flag are shown as <private>
 * (the device's default) unless OHNCP_HILOG_PRIVATE=1 (hilog -p off there).
 * Lines below the lowest level (OHNCP_HILOG_LEVEL=D|I|W|E|F, default I as
 * on a device, or OH_LOG_SetMinLogLevel) are dropped; so are those with a
 * NULL tag, a level outside LOG_DEBUG..LOG_FATAL or a domain above 0xFFFF.
 * Tags are cut to 31 bytes and a line to 4095, as there. Thread-safe.
 */
#ifndef HIVIEWDFX_HILOG_H
#define HIVIEWDFX_HILOG_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

#include "../ohncp_api_level.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The service domain (0x0-0xFFFF) and tag of OH_LOG_DEBUG and the others:
 * define them before including this header to set your own. */
#ifndef LOG_DOMAIN
#define LOG_DOMAIN 0
#endif

#ifndef LOG_TAG
#define LOG_TAG NULL
#endif

/* Since API 8. */
typedef enum {
    LOG_APP = 0, /* the logs of applications */
} LogType;

/* Since API 8. */
typedef enum {
    LOG_DEBUG = 3,
    LOG_INFO = 4,
    LOG_WARN = 5,
    LOG_ERROR = 6,
    LOG_FATAL = 7,
} LogLevel;

/* How OH_LOG_SetLogLevel's level combines with the system's lowest level. */
typedef enum {
    UNSET_LOGLEVEL = 0,   /* forget the level set */
    PREFER_CLOSE_LOG = 1, /* the higher of the two (OH_LOG_SetMinLogLevel) */
    PREFER_OPEN_LOG = 2,  /* the lower of the two */
} PreferStrategy OHNCP_SINCE_T(21);

/* The printf-like check of clang knows the privacy flags ("os_log"); GCC
 * has no such check, and printf's would refuse the flags. */
#if defined(__clang__)
#define OHNCP_HILOG_FORMAT(fmt, args) __attribute__((__format__(os_log, fmt, args)))
#else
#define OHNCP_HILOG_FORMAT(fmt, args)
#endif

/* Log one line; returns a value >= 0 if it was written, < 0 if not. */
int OH_LOG_Print(LogType type, LogLevel level, unsigned int domain, const char *tag, const char *fmt,
                 ...) OHNCP_HILOG_FORMAT(5, 6) OHNCP_SINCE(8);

/* Log `message` as it is (no format). */
int OH_LOG_PrintMsg(LogType type, LogLevel level, unsigned int domain, const char *tag,
                    const char *message) OHNCP_SINCE(18);

/* Log the first messageLen bytes of message, with the first tagLen of tag. */
int OH_LOG_PrintMsgByLen(LogType type, LogLevel level, unsigned int domain, const char *tag,
                         size_t tagLen, const char *message, size_t messageLen) OHNCP_SINCE(18);

/* OH_LOG_Print with a va_list. */
int OH_LOG_VPrint(LogType type, LogLevel level, unsigned int domain, const char *tag,
                  const char *fmt, va_list ap) OHNCP_HILOG_FORMAT(5, 0) OHNCP_SINCE(18);

/* Whether a line of this domain, tag and level would be written. */
bool OH_LOG_IsLoggable(unsigned int domain, const char *tag, LogLevel level) OHNCP_SINCE(8);

#define OH_LOG_DEBUG(type, ...) ((void)OH_LOG_Print((type), LOG_DEBUG, LOG_DOMAIN, LOG_TAG, __VA_ARGS__))
#define OH_LOG_INFO(type, ...) ((void)OH_LOG_Print((type), LOG_INFO, LOG_DOMAIN, LOG_TAG, __VA_ARGS__))
#define OH_LOG_WARN(type, ...) ((void)OH_LOG_Print((type), LOG_WARN, LOG_DOMAIN, LOG_TAG, __VA_ARGS__))
#define OH_LOG_ERROR(type, ...) ((void)OH_LOG_Print((type), LOG_ERROR, LOG_DOMAIN, LOG_TAG, __VA_ARGS__))
#define OH_LOG_FATAL(type, ...) ((void)OH_LOG_Print((type), LOG_FATAL, LOG_DOMAIN, LOG_TAG, __VA_ARGS__))

/* Called with each formatted line that passed the level check, before it
 * is written (on the logging thread). Since API 11. */
typedef void (*LogCallback)(const LogType type, const LogLevel level, const unsigned int domain,
                            const char *tag, const char *msg);

/* Set (or, with NULL, clear) the one callback of this process. */
void OH_LOG_SetCallback(LogCallback callback) OHNCP_SINCE(11);

/* This process writes no line below `level`. */
void OH_LOG_SetMinLogLevel(LogLevel level) OHNCP_SINCE(15);

/* This process's lowest level, combined with the system's by `prefer`. */
void OH_LOG_SetLogLevel(LogLevel level, PreferStrategy prefer) OHNCP_SINCE(21);

#ifdef __cplusplus
}
#endif

#endif /* HIVIEWDFX_HILOG_H */
