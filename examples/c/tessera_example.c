/*
 * A licensed program in C: takes a seat from a Tessera license server, shows it held,
 * and releases it on exit, Ctrl-C or SIGTERM.
 *
 *   tessera_example hold PRODUCT [SERVER [VENDOR_KEY]]     hold a seat until a signal
 *   tessera_example borrow PRODUCT HOURS [SERVER [KEY]]    borrow for offline use
 *   tessera_example return PRODUCT [SERVER [KEY]]          return a borrow early
 *   tessera_example threads PRODUCT N [SERVER [KEY]]       open N licenses from N threads
 *
 * SERVER and VENDOR_KEY default to TESSERA_SERVER and TESSERA_VENDOR_PUBLIC_KEY.
 * Build: cc tessera_example.c -I crates/tessera-ffi/include -L target/release -ltessera -lpthread
 */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tessera.h"

static volatile sig_atomic_t stop_requested = 0;

static void on_signal(int sig) {
    (void)sig;
    stop_requested = 1;
}

static const char *arg(int argc, char **argv, int i) { return i < argc ? argv[i] : NULL; }

static int report(const char *what, TesseraStatus status) {
    fprintf(stderr, "%s failed: %s [%s, status %d]\n", what, tessera_last_error_message(),
            tessera_last_error_code(), (int)status);
    return 1;
}

static int hold(const char *product, const char *server, const char *key) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);

    TesseraLicense *license = NULL;
    TesseraStatus status = tessera_license_open(server, key, product, &license);
    if (status != TESSERA_STATUS_OK) return report("tessera_license_open", status);
    char *id = tessera_license_id(license);
    printf("held %s (%s%s)\n", product, tessera_license_is_borrowed(license) ? "borrowed " : "lease ",
           id ? id : "?");
    fflush(stdout);
    tessera_string_free(id);
    while (!stop_requested) {
        if (!tessera_license_is_valid(license)) {
            fprintf(stderr, "the license was lost\n");
            tessera_license_release(license);
            return 3;
        }
        usleep(100 * 1000);
    }
    status = tessera_license_release(license);
    if (status != TESSERA_STATUS_OK) return report("tessera_license_release", status);
    printf("released %s\n", product);
    return 0;
}

struct job {
    const char *product, *server, *key;
    TesseraStatus status;
    char code[64];
};

static void *open_and_release(void *p) {
    struct job *job = p;
    TesseraLicense *license = NULL;
    job->status = tessera_license_open(job->server, job->key, job->product, &license);
    /* The last error is per thread: each thread reads its own. */
    snprintf(job->code, sizeof job->code, "%s", tessera_last_error_code());
    if (job->status == TESSERA_STATUS_OK) {
        usleep(200 * 1000);
        job->status = tessera_license_release(license);
    }
    return NULL;
}

static int threads(const char *product, int n, const char *server, const char *key) {
    pthread_t *ids = calloc((size_t)n, sizeof *ids);
    struct job *jobs = calloc((size_t)n, sizeof *jobs);
    for (int i = 0; i < n; i++) {
        /* Every odd thread asks for a product nobody sells, to see its own error. */
        jobs[i] = (struct job){i % 2 ? "no-such-product" : product, server, key, TESSERA_STATUS_OTHER, ""};
        pthread_create(&ids[i], NULL, open_and_release, &jobs[i]);
    }
    int failures = 0;
    for (int i = 0; i < n; i++) {
        pthread_join(ids[i], NULL);
        printf("thread %d: status %d code '%s'\n", i, (int)jobs[i].status, jobs[i].code);
        int expected = i % 2 ? TESSERA_STATUS_UNKNOWN_PRODUCT : TESSERA_STATUS_OK;
        if ((int)jobs[i].status != expected) failures++;
    }
    free(ids);
    free(jobs);
    printf("%d threads, %d unexpected\n", n, failures);
    return failures ? 1 : 0;
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: %s hold|borrow|return|threads PRODUCT ...\n", argv[0]);
        return 2;
    }
    const char *cmd = argv[1], *product = argv[2];
    if (strcmp(cmd, "hold") == 0) return hold(product, arg(argc, argv, 3), arg(argc, argv, 4));
    if (strcmp(cmd, "borrow") == 0 && argc >= 4) {
        TesseraStatus s = tessera_borrow(arg(argc, argv, 4), arg(argc, argv, 5), product, (uint32_t)atoi(argv[3]));
        if (s != TESSERA_STATUS_OK) return report("tessera_borrow", s);
        printf("borrowed %s for %s hours\n", product, argv[3]);
        return 0;
    }
    if (strcmp(cmd, "return") == 0) {
        TesseraStatus s = tessera_borrow_return(arg(argc, argv, 3), arg(argc, argv, 4), product);
        if (s != TESSERA_STATUS_OK) return report("tessera_borrow_return", s);
        printf("returned %s\n", product);
        return 0;
    }
    if (strcmp(cmd, "threads") == 0 && argc >= 4)
        return threads(product, atoi(argv[3]), arg(argc, argv, 4), arg(argc, argv, 5));
    fprintf(stderr, "unknown command %s\n", cmd);
    return 2;
}
