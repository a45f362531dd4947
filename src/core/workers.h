/*
 * A set of threads kept for short jobs that must run on a thread other
 * than the caller's (the voice agent's tool calls, which a request waits
 * for only until its deadline). A thread is made when a job finds none
 * idle, up to a cap, and leaves after it has been idle a while: a steady
 * stream of jobs costs a wake-up each, not a thread made and unmade each
 * (whose stack the kernel must fault in again every time).
 */
#ifndef BOOKD_CORE_WORKERS_H
#define BOOKD_CORE_WORKERS_H

struct core_workers;

/* At most `max_threads` threads; one idle for `idle_s` seconds leaves.
 * The set lives as long as the process: its idle threads are not stopped
 * (they hold nothing), and jobs still running are the caller's to wait
 * for. */
struct core_workers *core_workers_new(int max_threads, int idle_s);

/* Runs fn(arg) on one of the threads: at once, or when a thread is free
 * if all `max_threads` are busy. 0, or -1 when the job could not be taken
 * (no memory, or no thread at all could be made). */
int core_workers_run(struct core_workers *w, void (*fn)(void *arg), void *arg);

/* How many threads there are now, busy or idle. */
int core_workers_threads(struct core_workers *w);

#endif
