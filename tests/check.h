/* Tiny test harness: CHECK(cond) records a failure with file:line and goes
 * on; main() returns check_report(). */
#ifndef WB_CHECK_H
#define WB_CHECK_H
#include <stdio.h>

static int check_failures, check_count;
#define CHECK(c)                                                               \
    do {                                                                       \
        check_count++;                                                         \
        if (!(c)) {                                                            \
            check_failures++;                                                  \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #c); \
        }                                                                      \
    } while (0)

static int check_report(const char *name)
{
    printf("%s: %d checks, %d failed\n", name, check_count, check_failures);
    return check_failures ? 1 : 0;
}
#endif
