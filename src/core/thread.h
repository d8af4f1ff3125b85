/* src/core/thread.h - starting a detached POSIX thread (the engine's
 * background checkpoint, the server's workers and takeover helpers).
 * Internal to the library; no state. */
#ifndef WIREBUF_CORE_THREAD_H
#define WIREBUF_CORE_THREAD_H
#include <pthread.h>

/* Start fn(arg) on a new detached thread (nobody joins it: it must end by
 * itself and own or share arg as the caller arranges). Returns 0, or the
 * pthread error number (then fn was not started and arg is the caller's). */
static inline int wb_thread_detached(void *(*fn)(void *), void *arg)
{
    pthread_t th;
    pthread_attr_t a;
    int r = pthread_attr_init(&a);
    if (r != 0)
        return r;
    pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
    r = pthread_create(&th, &a, fn, arg);
    pthread_attr_destroy(&a);
    return r;
}
#endif
