/* test_hilog.c - libhilog_ndk.z.so: the device's format rules (privacy
 * flags), levels, domain and tag checks, the callback, and a child that
 * logs. Each case runs in its own process, so each reads the environment
 * (OHNCP_HILOG_*) afresh at its first line. */
#include "helpers.h"

#include <fcntl.h>
#include <regex.h>
#include <stdlib.h>
#include <string.h>

#include <hilog/log.h>

static char log_path[64];

/* Send this process's lines to a new file, with `env` (NAME=VALUE, or NULL). */
static void log_to_file(const char *env) {
    snprintf(log_path, sizeof log_path, "/tmp/ohncp-hilog-%d.log", (int)getpid());
    unlink(log_path);
    setenv("OHNCP_HILOG_FILE", log_path, 1);
    if (env != NULL)
        putenv((char *)env);
}

static char *read_log(void) {
    static char buf[16384];
    int fd = open(log_path, O_RDONLY | O_CLOEXEC);
    CHECK(fd >= 0);
    ssize_t n = read_all(fd, buf, sizeof buf);
    close(fd);
    unlink(log_path);
    CHECK(n >= 0);
    return buf;
}

static bool matches(const char *text, const char *pattern) {
    regex_t re;
    CHECK_EQ(regcomp(&re, pattern, REG_EXTENDED | REG_NEWLINE), 0);
    bool m = regexec(&re, text, 0, NULL, 0) == 0;
    regfree(&re);
    return m;
}

TEST(privacy_flags_and_conversions) {
    log_to_file(NULL);
    int rc = OH_LOG_Print(LOG_APP, LOG_INFO, 0x1234, "tagA",
                          "pub=%{public}s priv=%{private}d bare=%u pct=%% w=[%{public}5d] "
                          "p=[%{public}.2f] star=[%{public}*d] ll=%{public}lld x=%{public}#x",
                          "visible", 7, 8u, 42, 3.14159, 4, 9, -5000000000LL, 255u);
    CHECK(rc > 0);
    char *log = read_log();
    fprintf(stderr, "%s", log);
    CHECK(matches(log, "^[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{3} +[0-9]+ +[0-9]+ I "
                       "A01234/tagA: "));
    CHECK(strstr(log, "pub=visible priv=<private> bare=<private> pct=% w=[   42] p=[3.14] "
                      "star=[   9] ll=-5000000000 x=0xff\n") != NULL);
    char pid[32];
    snprintf(pid, sizeof pid, " %d ", (int)getpid());
    CHECK(strstr(log, pid) != NULL);
}

TEST(private_values_shown_with_the_switch) {
    log_to_file("OHNCP_HILOG_PRIVATE=1");
    CHECK(OH_LOG_Print(LOG_APP, LOG_WARN, 0, "t", "a=%{private}s b=%d", "shown", 5) > 0);
    char *log = read_log();
    CHECK(strstr(log, " W A00000/t: a=shown b=5\n") != NULL);
}

TEST(levels_domain_and_tag) {
    log_to_file(NULL);
    /* a device's default lowest level is INFO */
    CHECK(!OH_LOG_IsLoggable(0, "t", LOG_DEBUG));
    CHECK(OH_LOG_IsLoggable(0, "t", LOG_INFO));
    CHECK_EQ(OH_LOG_Print(LOG_APP, LOG_DEBUG, 0, "t", "dropped"), -1);
    CHECK_EQ(OH_LOG_Print(LOG_APP, LOG_INFO, 0, NULL, "no tag"), -1);
    CHECK_EQ(OH_LOG_Print(LOG_APP, LOG_INFO, 0x10000, "t", "domain too big"), -1);
    CHECK_EQ(OH_LOG_Print(LOG_APP, (LogLevel)9, 0, "t", "no such level"), -1);
    CHECK_EQ(OH_LOG_Print(LOG_APP, LOG_INFO, 0, "t", NULL), -1);
    OH_LOG_SetMinLogLevel(LOG_ERROR);
    CHECK(!OH_LOG_IsLoggable(0, "t", LOG_WARN));
    CHECK(OH_LOG_Print(LOG_APP, LOG_FATAL, 0xFFFF, "t", "fatal") > 0);
    OH_LOG_SetLogLevel(LOG_DEBUG, PREFER_OPEN_LOG); /* the lower of the two */
    CHECK(OH_LOG_IsLoggable(0, "t", LOG_DEBUG));
    OH_LOG_SetLogLevel(LOG_DEBUG, UNSET_LOGLEVEL);
    CHECK(!OH_LOG_IsLoggable(0, "t", LOG_WARN));
    char *log = read_log();
    CHECK(strstr(log, " F A0FFFF/t: fatal\n") != NULL);
    CHECK(strstr(log, "dropped") == NULL && strstr(log, "no tag") == NULL);
}

TEST(level_from_the_environment) {
    log_to_file("OHNCP_HILOG_LEVEL=D");
    CHECK(OH_LOG_IsLoggable(0, "t", LOG_DEBUG));
    CHECK(OH_LOG_Print(LOG_APP, LOG_DEBUG, 0, "t", "debug line") > 0);
    CHECK(strstr(read_log(), " D A00000/t: debug line\n") != NULL);
}

static char seen[256];
static void on_line(const LogType type, const LogLevel level, const unsigned int domain,
                    const char *tag, const char *msg) {
    snprintf(seen, sizeof seen, "%d %d %x %s %s", (int)type, (int)level, domain, tag, msg);
}

TEST(callback_tag_cut_and_messages) {
    log_to_file(NULL);
    OH_LOG_SetCallback(on_line);
    const char *long_tag = "a_tag_that_is_longer_than_thirty_one_bytes";
    CHECK(OH_LOG_Print(LOG_APP, LOG_ERROR, 0xab, long_tag, "n=%{public}d", 3) > 0);
    CHECK_STREQ(seen, "0 6 ab a_tag_that_is_longer_than_thirt n=3");
    OH_LOG_SetCallback(NULL);
    CHECK(OH_LOG_PrintMsg(LOG_APP, LOG_INFO, 1, "m", "as it is: %{public}s") > 0);
    CHECK(OH_LOG_PrintMsgByLen(LOG_APP, LOG_INFO, 1, "mtagXX", 4, "cut here|not this", 8) > 0);
    CHECK_STREQ(seen, "0 6 ab a_tag_that_is_longer_than_thirt n=3"); /* cleared */
    char *log = read_log();
    CHECK(strstr(log, " E A000AB/a_tag_that_is_longer_than_thirt: n=3\n") != NULL);
    CHECK(strstr(log, " I A00001/m: as it is: %{public}s\n") != NULL);
    CHECK(strstr(log, " I A00001/mtag: cut here\n") != NULL);
}

/* A child library built against <hilog/log.h> logs with its own pid. */
TEST(a_child_logs) {
    log_to_file(NULL); /* the child inherits the environment */
    int32_t pid = 0;
    NativeChildProcess_Args args = {.entryParams = (char *)"p1"};
    NativeChildProcess_Options opts = {.isolationMode = NCP_ISOLATION_MODE_NORMAL};
    register_recorder();
    CHECK_EQ(OH_Ability_StartNativeChildProcess(OHNCP_TEST_CHILD_DIR "/libchild_hilog.so:Entry_Log",
                                                args, opts, &pid),
             NCP_NO_ERROR);
    pthread_mutex_lock(&exits_lock);
    while (count_exits(pid) == 0)
        pthread_cond_wait(&exits_cond, &exits_lock);
    pthread_mutex_unlock(&exits_lock);
    char *log = read_log();
    char want[128];
    snprintf(want, sizeof want, " %d ", (int)pid);
    CHECK(strstr(log, want) != NULL);
    CHECK(strstr(log, " I A03200/childTag: params p1, secret <private>, bare <private>\n") != NULL);
    CHECK(strstr(log, "below the default level") == NULL);
}
