/* A minimal TAP producer for the tests that are not Criterion's. */
#ifndef BOOKD_TESTS_TAP_H
#define BOOKD_TESTS_TAP_H

#include <stdbool.h>

void tap_plan(int count);
/* Prints "ok N - what" or "not ok N - what"; returns cond. */
bool tap_ok(bool cond, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Prints "# ..." */
void tap_diag(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Exit status: 0 when every test passed. */
int tap_exit_code(void);

#endif
