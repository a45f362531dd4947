/*
 * Where log lines go: standard error, in batches.
 *
 * A line handed over is copied into a buffer under a lock held only for the
 * copy; a flusher thread writes what gathered with one write(2) a few
 * milliseconds later. Writing each line itself, every request thread queued
 * on the stream's lock across the write system call: two futex calls and a
 * write a request, about a tenth of bookd's CPU under load (bench/HISTORY.md,
 * step 19).
 *
 * Urgent lines (warnings, errors, lifecycle notices) are written before the
 * call returns, after every line handed over before them, so what tools and
 * people wait for is never late and the order of lines is kept. Until
 * log_sink_start() and after log_sink_stop() every line is urgent. A crash
 * loses at most the lines below warning level of the last flush interval.
 * A batch longer than PIPE_BUF is not atomic on a pipe: the output of
 * another process sharing that pipe can land inside it.
 */
#ifndef BOOKD_LOG_SINK_H
#define BOOKD_LOG_SINK_H

#include <stdbool.h>
#include <stddef.h>

/* Hands over `len` bytes of whole lines. */
void log_sink_put(const char *text, size_t len, bool urgent);

/* Starts the flusher thread: lines gather for at most `interval_ms` (>= 0).
 * 0 on success; on failure every line stays urgent. Start and stop belong to
 * one thread (main's), not to be called concurrently with each other. */
int log_sink_start(int interval_ms);

/* Writes what is pending and stops the flusher. */
void log_sink_stop(void);

#endif
