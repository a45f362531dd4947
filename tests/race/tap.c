#include "tap.h"

#include <stdarg.h>
#include <stdio.h>

static int number, failures;

void tap_plan(int count)
{
    printf("1..%d\n", count);
    fflush(stdout);
}

bool tap_ok(bool cond, const char *fmt, ...)
{
    va_list ap;
    printf("%sok %d - ", cond ? "" : "not ", ++number);
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    putchar('\n');
    fflush(stdout);
    failures += !cond;
    return cond;
}

void tap_diag(const char *fmt, ...)
{
    va_list ap;
    fputs("# ", stdout);
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    putchar('\n');
    fflush(stdout);
}

int tap_exit_code(void)
{
    return failures ? 1 : 0;
}
