/*
 * Logging: one JSON object per line on stderr, {"ts","level","event",...}.
 * Never pass keys, secrets or personal data: log ids, codes and counts.
 */
#ifndef BOOKD_LOG_H
#define BOOKD_LOG_H

enum log_level { LOG_DEBUG, LOG_INFO, LOG_WARN, LOG_ERROR };

/* Messages below `level` are dropped. Default LOG_INFO. */
void log_set_level(enum log_level level);

/*
 * Writes {"ts":..., "level":..., "event": event, "msg": <formatted>}.
 * `event` is a short stable name ("db.connect_failed"); the message is
 * free text for people and is JSON-escaped.
 */
void log_write(enum log_level level, const char *event, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* The access log: one line per HTTP request. `route` is the route's
 * pattern, never the raw path or query. */
void log_request(const char *request_id, const char *method, const char *route,
                 unsigned status, double millis);

/* Lifecycle lines (listening, stopping) that tools wait for: written
 * whatever the level. */
void log_notice(const char *event, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define log_info(ev, ...) log_write(LOG_INFO, ev, __VA_ARGS__)
#define log_warn(ev, ...) log_write(LOG_WARN, ev, __VA_ARGS__)
#define log_error(ev, ...) log_write(LOG_ERROR, ev, __VA_ARGS__)

#endif
