// SHA-256 on a second thread (SHA-NI only), for image layers: the applier writes files while the
// bytes it just read are hashed. Never used in the launcher's clone path (the thread is joined
// by ward_sha256_async_finish before anything is cloned).
#include "ward_shim.h"

#include <pthread.h>
#include <stdlib.h>

struct ward_sha256_async {
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t changed;
    const void *job;        // the one pending job (the caller waits while one is pending)
    size_t job_len;
    int has_job, stop;
    uint64_t submitted, completed;
    struct ward_sha256_ctx ctx;
};

static void *worker(void *arg) {
    struct ward_sha256_async *h = arg;
    pthread_mutex_lock(&h->lock);
    for (;;) {
        while (!h->has_job && !h->stop) pthread_cond_wait(&h->changed, &h->lock);
        if (!h->has_job) break;  // stopping, nothing left
        const void *p = h->job;
        size_t n = h->job_len;
        h->has_job = 0;
        pthread_cond_broadcast(&h->changed);
        pthread_mutex_unlock(&h->lock);
        ward_sha256_ni_update(&h->ctx, p, n);
        pthread_mutex_lock(&h->lock);
        h->completed++;
        pthread_cond_broadcast(&h->changed);
    }
    pthread_mutex_unlock(&h->lock);
    return NULL;
}

struct ward_sha256_async *ward_sha256_async_start(void) {
    if (!ward_sha256_ni_available()) return NULL;
    struct ward_sha256_async *h = calloc(1, sizeof *h);
    if (h == NULL) return NULL;
    pthread_mutex_init(&h->lock, NULL);
    pthread_cond_init(&h->changed, NULL);
    ward_sha256_ni_init(&h->ctx);
    if (pthread_create(&h->thread, NULL, worker, h) != 0) {
        pthread_cond_destroy(&h->changed);
        pthread_mutex_destroy(&h->lock);
        free(h);
        return NULL;
    }
    return h;
}

uint64_t ward_sha256_async_submit(struct ward_sha256_async *h, const void *bytes, size_t n) {
    pthread_mutex_lock(&h->lock);
    while (h->has_job) pthread_cond_wait(&h->changed, &h->lock);
    h->job = bytes;
    h->job_len = n;
    h->has_job = 1;
    uint64_t seq = ++h->submitted;
    pthread_cond_broadcast(&h->changed);
    pthread_mutex_unlock(&h->lock);
    return seq;
}

void ward_sha256_async_wait(struct ward_sha256_async *h, uint64_t seq) {
    pthread_mutex_lock(&h->lock);
    while (h->completed < seq) pthread_cond_wait(&h->changed, &h->lock);
    pthread_mutex_unlock(&h->lock);
}

void ward_sha256_async_finish(struct ward_sha256_async *h, uint8_t digest[32]) {
    pthread_mutex_lock(&h->lock);
    h->stop = 1;
    pthread_cond_broadcast(&h->changed);
    pthread_mutex_unlock(&h->lock);
    pthread_join(h->thread, NULL);
    if (digest != NULL) ward_sha256_ni_final(&h->ctx, digest);
    pthread_cond_destroy(&h->changed);
    pthread_mutex_destroy(&h->lock);
    free(h);
}
