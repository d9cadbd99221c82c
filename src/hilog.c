/*
 * hilog.c - libhilog_ndk.z.so on the host: OH_LOG_* (include/hilog/log.h).
 *
 * Map:
 *   1. settings: the environment, once; the process's lowest level
 *   2. the format: printf's conversions, each shown or <private>
 *   3. the line: prefix, callback, one write
 *   4. the API
 *
 * Thread-safety: every function may be called from any thread at once. The
 * settings are read once (pthread_once) and then only read; the lowest
 * level and the callback are atomics; a line is one write(2), so lines of
 * threads and processes sharing the file do not interleave.
 */
#include "hilog/log.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#include <wchar.h>

#define TAG_MAX 32   /* with its NUL: longer tags are cut */
#define LINE_MAX 4096 /* the text of one line, with its NUL */
#define DOMAIN_MAX 0xFFFFu

/* ---- 1. settings ---------------------------------------------------------- */

static struct {
    int fd;         /* where lines go: stderr or OHNCP_HILOG_FILE */
    bool show_private;
    int env_level; /* OHNCP_HILOG_LEVEL, else LOG_INFO (a device's default) */
} cfg;
static pthread_once_t cfg_once = PTHREAD_ONCE_INIT;

static _Atomic int min_level = 0;      /* OH_LOG_SetMinLogLevel; 0: unset */
static _Atomic int pref_level = 0;     /* OH_LOG_SetLogLevel's level */
static _Atomic int pref_strategy = UNSET_LOGLEVEL;
static _Atomic(LogCallback) callback; /* NULL: none */

static int level_of_letter(const char *s) {
    static const char letters[] = "DIWEF";
    const char *at = s != NULL && s[0] != '\0' ? strchr(letters, s[0] & ~0x20) : NULL;
    return at != NULL ? LOG_DEBUG + (int)(at - letters) : LOG_INFO;
}

static void cfg_init(void) {
    const char *file = getenv("OHNCP_HILOG_FILE");
    cfg.fd = 2;
    if (file != NULL && file[0] != '\0') {
        int fd = open(file, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
        if (fd >= 0)
            cfg.fd = fd; /* kept for the process's life; else stderr */
    }
    const char *priv = getenv("OHNCP_HILOG_PRIVATE");
    cfg.show_private = priv != NULL && strcmp(priv, "1") == 0;
    cfg.env_level = level_of_letter(getenv("OHNCP_HILOG_LEVEL"));
}

/* The lowest level written now, from the system's and this process's. */
static int lowest_level(void) {
    int sys = cfg.env_level, own = min_level;
    if (own > sys)
        sys = own; /* SetMinLogLevel only raises it */
    int pref = pref_level, strategy = pref_strategy;
    switch (strategy) {
    case PREFER_CLOSE_LOG:
        return pref > sys ? pref : sys;
    case PREFER_OPEN_LOG:
        return pref < sys ? pref : sys;
    default:
        return sys;
    }
}

static bool loggable(unsigned int domain, const char *tag, int level) {
    pthread_once(&cfg_once, cfg_init);
    return tag != NULL && level >= LOG_DEBUG && level <= LOG_FATAL && domain <= DOMAIN_MAX &&
           level >= lowest_level();
}

/* ---- 2. the format -------------------------------------------------------- */

struct out {
    char *buf;
    size_t len, cap; /* cap includes the NUL */
};

static void put(struct out *o, const char *s, size_t n) {
    size_t room = o->cap - 1 - o->len;
    if (n > room)
        n = room;
    memcpy(o->buf + o->len, s, n);
    o->len += n;
    o->buf[o->len] = '\0';
}

/* The pieces of one conversion: "%" flags width precision length conv. */
struct spec {
    char text[48]; /* the conversion without its privacy flag, for snprintf */
    char conv;
    char len[3];   /* "", "hh", "h", "l", "ll", "j", "z", "t", "L" */
    bool star_width, star_prec;
};

/* Parse the conversion at `p` (just past '%' and the flag); returns the
 * character after it, or NULL for one that is not a conversion. */
static const char *parse_spec(const char *p, struct spec *s) {
    size_t n = 0;
    s->text[n++] = '%';
    s->star_width = s->star_prec = false;
    while (*p != '\0' && strchr("-+ #0'", *p) != NULL && n < 16)
        s->text[n++] = *p++;
    if (*p == '*') {
        s->star_width = true;
        s->text[n++] = *p++;
    }
    while (*p >= '0' && *p <= '9' && n < 24)
        s->text[n++] = *p++;
    if (*p == '.') {
        s->text[n++] = *p++;
        if (*p == '*') {
            s->star_prec = true;
            s->text[n++] = *p++;
        }
        while (*p >= '0' && *p <= '9' && n < 32)
            s->text[n++] = *p++;
    }
    size_t l = 0;
    while (*p != '\0' && strchr("hljztL", *p) != NULL && l < 2) {
        s->len[l++] = *p;
        s->text[n++] = *p++;
    }
    s->len[l] = '\0';
    if (*p == '\0' || strchr("diouxXeEfFgGaAcspn", *p) == NULL)
        return NULL;
    s->conv = *p;
    s->text[n++] = *p++;
    s->text[n] = '\0';
    return p;
}

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"

/* Take the conversion's argument from ap and, if shown, format it into o. */
static void convert(struct out *o, const struct spec *s, bool shown, va_list *ap) {
    char tmp[LINE_MAX];
    int w = s->star_width ? va_arg(*ap, int) : 0, pr = s->star_prec ? va_arg(*ap, int) : 0;
    int n = 0;
#define FMT(value)                                                                                 \
    (s->star_width && s->star_prec ? snprintf(tmp, sizeof tmp, s->text, w, pr, value)             \
     : s->star_width               ? snprintf(tmp, sizeof tmp, s->text, w, value)                 \
     : s->star_prec                ? snprintf(tmp, sizeof tmp, s->text, pr, value)                \
                                   : snprintf(tmp, sizeof tmp, s->text, value))
    const char *l = s->len;
    switch (s->conv) {
    case 'd':
    case 'i':
        if (strcmp(l, "ll") == 0)
            n = FMT(va_arg(*ap, long long));
        else if (strcmp(l, "l") == 0)
            n = FMT(va_arg(*ap, long));
        else if (strcmp(l, "j") == 0)
            n = FMT(va_arg(*ap, intmax_t));
        else if (strcmp(l, "z") == 0)
            n = FMT(va_arg(*ap, ssize_t));
        else if (strcmp(l, "t") == 0)
            n = FMT(va_arg(*ap, ptrdiff_t));
        else
            n = FMT(va_arg(*ap, int)); /* hh, h: promoted to int */
        break;
    case 'o':
    case 'u':
    case 'x':
    case 'X':
        if (strcmp(l, "ll") == 0)
            n = FMT(va_arg(*ap, unsigned long long));
        else if (strcmp(l, "l") == 0)
            n = FMT(va_arg(*ap, unsigned long));
        else if (strcmp(l, "j") == 0)
            n = FMT(va_arg(*ap, uintmax_t));
        else if (strcmp(l, "z") == 0)
            n = FMT(va_arg(*ap, size_t));
        else if (strcmp(l, "t") == 0)
            n = FMT(va_arg(*ap, ptrdiff_t));
        else
            n = FMT(va_arg(*ap, unsigned int));
        break;
    case 'c':
        n = strcmp(l, "l") == 0 ? FMT(va_arg(*ap, wint_t)) : FMT(va_arg(*ap, int));
        break;
    case 's':
        if (strcmp(l, "l") == 0) {
            const wchar_t *ws = va_arg(*ap, const wchar_t *);
            n = ws != NULL ? FMT(ws) : snprintf(tmp, sizeof tmp, "(null)");
        } else {
            const char *cs = va_arg(*ap, const char *);
            n = cs != NULL ? FMT(cs) : snprintf(tmp, sizeof tmp, "(null)");
        }
        break;
    case 'p':
        n = FMT(va_arg(*ap, void *));
        break;
    case 'n':
        (void)va_arg(*ap, void *); /* writes nothing back, as on the device */
        return;
    default: /* e E f F g G a A */
        n = strcmp(l, "L") == 0 ? FMT(va_arg(*ap, long double)) : FMT(va_arg(*ap, double));
        break;
    }
#undef FMT
    if (!shown)
        put(o, "<private>", 9);
    else if (n > 0)
        put(o, tmp, (size_t)n < sizeof tmp ? (size_t)n : sizeof tmp - 1);
}

#pragma GCC diagnostic pop

/* fmt with its arguments into o: %{public}x shown, %{private}x and a bare
 * %x shown only with OHNCP_HILOG_PRIVATE=1. An unknown conversion is copied
 * as it is and ends the formatting (its argument's type is unknown). */
static void format(struct out *o, const char *fmt, va_list ap) {
    va_list args;
    va_copy(args, ap);
    for (const char *p = fmt; *p != '\0';) {
        const char *pct = strchr(p, '%');
        if (pct == NULL) {
            put(o, p, strlen(p));
            break;
        }
        put(o, p, (size_t)(pct - p));
        p = pct + 1;
        if (*p == '%') {
            put(o, "%", 1);
            p++;
            continue;
        }
        bool shown = cfg.show_private;
        if (strncmp(p, "{public}", 8) == 0)
            shown = true, p += 8;
        else if (strncmp(p, "{private}", 9) == 0)
            p += 9;
        struct spec s;
        const char *next = parse_spec(p, &s);
        if (next == NULL) {
            put(o, pct, strlen(pct));
            break;
        }
        convert(o, &s, shown, &args);
        p = next;
    }
    va_end(args);
}

/* ---- 3. the line ---------------------------------------------------------- */

static void write_line(LogType type, int level, unsigned int domain, const char *tag,
                       size_t tag_len, const char *text) {
    LogCallback cb = callback;
    char cut_tag[TAG_MAX];
    if (tag_len > TAG_MAX - 1)
        tag_len = TAG_MAX - 1;
    memcpy(cut_tag, tag, tag_len);
    cut_tag[tag_len] = '\0';
    if (cb != NULL)
        cb(type, (LogLevel)level, domain, cut_tag, text);
    struct timespec ts;
    struct tm tm;
    (void)clock_gettime(CLOCK_REALTIME, &ts);
    (void)localtime_r(&ts.tv_sec, &tm);
    char line[LINE_MAX + 128];
    int n = snprintf(line, sizeof line, "%02d-%02d %02d:%02d:%02d.%03ld %5d %5ld %c A0%04X/%s: %s\n",
                     tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                     ts.tv_nsec / 1000000, (int)getpid(), (long)syscall(SYS_gettid),
                     "DIWEF"[level - LOG_DEBUG], domain, cut_tag, text);
    if (n < 0)
        return;
    size_t len = (size_t)n < sizeof line ? (size_t)n : sizeof line - 1;
    if (len == sizeof line - 1)
        line[len - 1] = '\n'; /* cut: still one line */
    ssize_t w;
    do
        w = write(cfg.fd, line, len); /* one write: lines never interleave */
    while (w < 0 && errno == EINTR);
}

/* ---- 4. the API ----------------------------------------------------------- */

bool OH_LOG_IsLoggable(unsigned int domain, const char *tag, LogLevel level) {
    return loggable(domain, tag, (int)level);
}

int OH_LOG_VPrint(LogType type, LogLevel level, unsigned int domain, const char *tag,
                  const char *fmt, va_list ap) {
    if (fmt == NULL || !loggable(domain, tag, (int)level))
        return -1;
    char text[LINE_MAX] = "";
    struct out o = {text, 0, sizeof text};
    format(&o, fmt, ap);
    write_line(type, (int)level, domain, tag, strlen(tag), text);
    return (int)o.len;
}

int OH_LOG_Print(LogType type, LogLevel level, unsigned int domain, const char *tag, const char *fmt,
                 ...) {
    va_list ap;
    va_start(ap, fmt);
    int rc = OH_LOG_VPrint(type, level, domain, tag, fmt, ap);
    va_end(ap);
    return rc;
}

int OH_LOG_PrintMsgByLen(LogType type, LogLevel level, unsigned int domain, const char *tag,
                         size_t tagLen, const char *message, size_t messageLen) {
    if (message == NULL || !loggable(domain, tag, (int)level))
        return -1;
    char text[LINE_MAX] = "";
    struct out o = {text, 0, sizeof text};
    put(&o, message, strnlen(message, messageLen));
    write_line(type, (int)level, domain, tag, strnlen(tag, tagLen), text);
    return (int)o.len;
}

int OH_LOG_PrintMsg(LogType type, LogLevel level, unsigned int domain, const char *tag,
                    const char *message) {
    return OH_LOG_PrintMsgByLen(type, level, domain, tag, tag != NULL ? strlen(tag) : 0, message,
                                message != NULL ? strlen(message) : 0);
}

void OH_LOG_SetCallback(LogCallback cb) { callback = cb; }

void OH_LOG_SetMinLogLevel(LogLevel level) {
    if ((int)level >= LOG_DEBUG && (int)level <= LOG_FATAL)
        min_level = (int)level;
}

void OH_LOG_SetLogLevel(LogLevel level, PreferStrategy prefer) {
    if (prefer == UNSET_LOGLEVEL) {
        pref_strategy = UNSET_LOGLEVEL;
        return;
    }
    if ((int)level < LOG_DEBUG || (int)level > LOG_FATAL ||
        (prefer != PREFER_CLOSE_LOG && prefer != PREFER_OPEN_LOG))
        return;
    pref_level = (int)level;
    pref_strategy = prefer;
}
