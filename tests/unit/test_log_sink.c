/*
 * The log sink: batched lines all reach standard error whole and in order,
 * an urgent line is out (after everything before it) when the call returns,
 * and lines from many threads, more than the buffer holds, are neither lost
 * nor torn.
 */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log_sink.h"

/* Points fd 2 at a fresh temporary file; returns a stream to read it. */
static FILE *capture_stderr(void)
{
    FILE *f = tmpfile();
    cr_assert_not_null(f);
    cr_assert_neq(dup2(fileno(f), STDERR_FILENO), -1);
    return f;
}

/* What fd 2 has received so far (malloc'd, NUL-terminated). */
static char *captured(FILE *f)
{
    long n = lseek(fileno(f), 0, SEEK_END);
    char *text = calloc(1, (size_t)n + 1);
    cr_assert_not_null(text);
    cr_assert_eq(pread(fileno(f), text, (size_t)n, 0), n);
    return text;
}

static void put(const char *line, bool urgent)
{
    log_sink_put(line, strlen(line), urgent);
}

Test(log_sink, without_a_flusher_a_line_is_written_at_once)
{
    FILE *f = capture_stderr();
    put("one\n", false);
    char *text = captured(f);
    cr_assert_str_eq(text, "one\n");
    free(text);
}

Test(log_sink, an_urgent_line_is_out_on_return_after_the_lines_before_it)
{
    FILE *f = capture_stderr();
    cr_assert_eq(log_sink_start(10000), 0); /* the flusher alone would wait 10 s */
    put("a\n", false);
    put("b\n", false);
    put("warn\n", true);
    char *text = captured(f);
    cr_assert_str_eq(text, "a\nb\nwarn\n");
    free(text);
    put("c\n", false);
    log_sink_stop();
    text = captured(f);
    cr_assert_str_eq(text, "a\nb\nwarn\nc\n", "stop writes what is pending");
    free(text);
}

Test(log_sink, batched_lines_are_written_by_the_flusher)
{
    FILE *f = capture_stderr();
    char *text = NULL;
    cr_assert_eq(log_sink_start(1), 0);
    put("batched\n", false);
    for (int i = 0; i < 2000; i++) { /* up to 2 s for a 1 ms interval */
        free(text);
        text = captured(f);
        if (text[0])
            break;
        usleep(1000);
    }
    cr_assert_str_eq(text, "batched\n");
    free(text);
    log_sink_stop();
}

Test(log_sink, lines_after_stop_and_lines_larger_than_the_buffer_are_written_at_once)
{
    FILE *f = capture_stderr();
    size_t big_len = 100 * 1024;
    char *big = malloc(big_len + 1), *text;

    cr_assert_not_null(big);
    memset(big, 'x', big_len - 1);
    big[big_len - 1] = '\n';
    big[big_len] = '\0';
    cr_assert_eq(log_sink_start(10000), 0);
    put("small\n", false);
    put(big, false);
    text = captured(f);
    cr_assert_eq(strlen(text), strlen("small\n") + big_len, "both out, the small one first");
    cr_assert(strncmp(text, "small\nxxx", 9) == 0);
    free(text);
    log_sink_stop();
    put("late\n", false);
    text = captured(f);
    cr_assert_str_eq(text + strlen("small\n") + big_len, "late\n");
    free(text);
    free(big);
}

Test(log_sink, a_negative_interval_is_refused)
{
    cr_assert_eq(log_sink_start(-1), -1);
}

#define THREADS 8
#define LINES 3000

static void *writer(void *arg)
{
    char line[64];
    int id = (int)(intptr_t)arg;
    for (int i = 0; i < LINES; i++) {
        snprintf(line, sizeof line, "t%d %06d ........................\n", id, i);
        put(line, i % 1000 == 999);
    }
    return NULL;
}

Test(log_sink, many_threads_more_than_the_buffer_holds_nothing_lost_or_torn)
{
    FILE *f = capture_stderr();
    pthread_t threads[THREADS];
    int next[THREADS] = {0};

    cr_assert_eq(log_sink_start(5), 0);
    for (int t = 0; t < THREADS; t++)
        pthread_create(&threads[t], NULL, writer, (void *)(intptr_t)t);
    for (int t = 0; t < THREADS; t++)
        pthread_join(threads[t], NULL);
    log_sink_stop();

    char *text = captured(f), *save = NULL;
    int lines = 0;
    for (char *l = strtok_r(text, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
        int t, i;
        cr_assert_eq(sscanf(l, "t%d %d", &t, &i), 2, "a torn line: %s", l);
        cr_assert(t >= 0 && t < THREADS);
        cr_assert_eq(i, next[t], "thread %d: line %d came where %d was due", t, i, next[t]);
        cr_assert_eq(strlen(l), strlen("t0 000000 ........................"));
        next[t]++;
        lines++;
    }
    cr_assert_eq(lines, THREADS * LINES);
    free(text);
}
