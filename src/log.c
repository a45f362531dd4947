#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "core/time.h"
#include "log_sink.h"

static enum log_level min_level = LOG_INFO;
static const char *const level_names[] = {"debug", "info", "warn", "error"};

void log_set_level(enum log_level level)
{
    min_level = level;
}

/* One line for a message already formatted; no level check. */
static void write_line(enum log_level level, const char *event, const char *msg, bool urgent)
{
    char ts[CORE_ISO_LEN + 1];
    struct timespec now;
    json_t *line;

    clock_gettime(CLOCK_REALTIME, &now);
    core_iso_format((int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000, ts);
    /* "s?" keeps a message that is not valid UTF-8 from dropping the line. */
    line = json_pack("{s:s, s:s, s:s, s:s?}", "ts", ts, "level", level_names[level], "event", event,
                     "msg", msg);
    if (!line)
        line = json_pack("{s:s, s:s, s:s}", "ts", ts, "level", level_names[level], "event", event);
    if (line) {
        char *text = json_dumps(line, JSON_COMPACT);
        if (text) {
            size_t n = strlen(text);
            char *full = realloc(text, n + 2);
            if (full) {
                full[n] = '\n';
                full[n + 1] = '\0';
                log_sink_put(full, n + 1, urgent);
                text = full;
            }
            free(text);
        }
        json_decref(line);
    }
}

void log_write(enum log_level level, const char *event, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;

    if (level < min_level)
        return;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    write_line(level, event, msg, level >= LOG_WARN);
}

/*
 * The access log is on the hot path: one snprintf and a copy into the
 * batch of log_sink.h, no JSON library. Every field is ours (hex id,
 * method, route pattern, numbers), so nothing needs escaping.
 */
void log_request(const char *request_id, const char *method, const char *route, unsigned status,
                 double millis)
{
    char ts[CORE_ISO_LEN + 1], line[512];
    struct timespec now;
    int n;

    if (LOG_INFO < min_level)
        return;
    clock_gettime(CLOCK_REALTIME, &now);
    core_iso_format((int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000, ts);
    n = snprintf(line, sizeof line,
                 "{\"ts\":\"%s\",\"level\":\"info\",\"event\":\"http.request\","
                 "\"requestId\":\"%s\",\"method\":\"%s\",\"route\":\"%s\",\"status\":%u,"
                 "\"ms\":%.3f}\n",
                 ts, request_id, method, route, status, millis);
    if (n > 0 && (size_t)n < sizeof line)
        log_sink_put(line, (size_t)n, false);
}

void log_notice(const char *event, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    write_line(LOG_INFO, event, msg, true);
}
