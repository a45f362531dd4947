#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include <jansson.h>

#include "core/time.h"

static enum log_level min_level = LOG_INFO;
static const char *const level_names[] = {"debug", "info", "warn", "error"};

void log_set_level(enum log_level level)
{
    min_level = level;
}

void log_write(enum log_level level, const char *event, const char *fmt, ...)
{
    char msg[1024], ts[CORE_ISO_LEN + 1];
    struct timespec now;
    va_list ap;
    json_t *line;

    if (level < min_level)
        return;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    clock_gettime(CLOCK_REALTIME, &now);
    core_iso_format((int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000, ts);
    /* "s?" keeps a message that is not valid UTF-8 from dropping the line. */
    line = json_pack("{s:s, s:s, s:s, s:s?}", "ts", ts, "level", level_names[level], "event",
                     event, "msg", msg);
    if (!line)
        line = json_pack("{s:s, s:s, s:s}", "ts", ts, "level", level_names[level], "event", event);
    if (line) {
        /* One fputs of a whole line, so concurrent lines do not interleave. */
        char *text = json_dumps(line, JSON_COMPACT);
        if (text) {
            fprintf(stderr, "%s\n", text);
            free(text);
        }
        json_decref(line);
    }
}

void log_request(const char *request_id, const char *method, const char *route,
                 unsigned status, double millis)
{
    char ts[CORE_ISO_LEN + 1];
    struct timespec now;
    json_t *line;
    char *text;

    if (LOG_INFO < min_level)
        return;
    clock_gettime(CLOCK_REALTIME, &now);
    core_iso_format((int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000, ts);
    line = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:i, s:f}", "ts", ts, "level", "info",
                     "event", "http.request", "requestId", request_id, "method", method, "route",
                     route, "status", (json_int_t)status, "ms", millis);
    text = line ? json_dumps(line, JSON_COMPACT | JSON_REAL_PRECISION(4)) : NULL;
    if (text)
        fprintf(stderr, "%s\n", text);
    free(text);
    json_decref(line);
}
