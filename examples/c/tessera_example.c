/*
 * A licensed program in C: takes a seat from a Tessera license server, shows it held,
 * and releases it on exit, Ctrl-C or SIGTERM.
 *
 *   tessera_example hold PRODUCT [SERVER [VENDOR_KEY]]     hold a seat until a signal
 *   tessera_example borrow PRODUCT HOURS [SERVER [KEY]]    borrow for offline use
 *   tessera_example return PRODUCT [SERVER [KEY]]          return a borrow early
 *   tessera_example threads PRODUCT N [SERVER [KEY]]       open N licenses from N threads
 *
 * Named users (the person's sign-in is kept on this computer, shared with `tessera login`):
 *   tessera_example sign-in PORTAL EMAIL                   sign in (password in TESSERA_PASSWORD)
 *   tessera_example browser-sign-in PORTAL                 sign in through the browser
 *   tessera_example named PRODUCT                          hold a named-user license; each line
 *                                                          on stdin checks with the portal now
 *   tessera_example tokens PRODUCT [USED_SECONDS]          report a use of a token-licensed product
 *   tessera_example sign-out
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

static int browser_sign_in(const char *portal) {
    TesseraBrowserSignIn *sign_in = NULL;
    TesseraStatus status = tessera_named_browser_start(portal, NULL, NULL, &sign_in);
    if (status != TESSERA_STATUS_OK) return report("tessera_named_browser_start", status);
    char *code = tessera_browser_sign_in_code(sign_in);
    char *url = tessera_browser_sign_in_url(sign_in);
    printf("open %s and approve the code %s\n", url ? url : "?", code ? code : "?");
    fflush(stdout);
    tessera_string_free(code);
    tessera_string_free(url);
    do {
        usleep(tessera_browser_sign_in_interval_ms(sign_in) * 1000u);
        status = tessera_named_browser_poll(sign_in);
    } while (status == TESSERA_STATUS_PENDING);
    tessera_browser_sign_in_free(sign_in);
    if (status != TESSERA_STATUS_OK) return report("tessera_named_browser_poll", status);
    printf("signed in\n");
    return 0;
}

static int named(const char *product) {
    TesseraNamedLicense *license = NULL;
    TesseraStatus status = tessera_named_open(NULL, product, &license);
    if (status != TESSERA_STATUS_OK) return report("tessera_named_open", status);
    printf("held %s (named user)\n", product);
    fflush(stdout);
    char line[64];
    while (fgets(line, sizeof line, stdin)) {
        status = tessera_named_license_refresh(license);
        if (status == TESSERA_STATUS_OK)
            printf("valid\n");
        else
            printf("stopped: %s (status %d): %s\n", tessera_last_error_code(), (int)status,
                   tessera_last_error_message());
        fflush(stdout);
    }
    tessera_named_license_release(license);
    return 0;
}

int main(int argc, char **argv) {
    if (argc >= 2 && strcmp(argv[1], "sign-out") == 0) {
        TesseraStatus s = tessera_named_sign_out(NULL);
        if (s != TESSERA_STATUS_OK) return report("tessera_named_sign_out", s);
        printf("signed out\n");
        return 0;
    }
    if (argc >= 4 && strcmp(argv[1], "sign-in") == 0) {
        const char *password = getenv("TESSERA_PASSWORD");
        TesseraStatus s = tessera_named_sign_in(argv[2], NULL, argv[3], password ? password : "", NULL);
        if (s != TESSERA_STATUS_OK) return report("tessera_named_sign_in", s);
        printf("signed in as %s\n", argv[3]);
        return 0;
    }
    if (argc >= 3 && strcmp(argv[1], "browser-sign-in") == 0) return browser_sign_in(argv[2]);
    if (argc >= 3 && strcmp(argv[1], "named") == 0) return named(argv[2]);
    if (argc >= 3 && strcmp(argv[1], "tokens") == 0) {
        int64_t balance = -1;
        TesseraStatus s = tessera_tokens_use(NULL, argv[2], argc >= 4 ? atoll(argv[3]) : -1, &balance);
        if (s != TESSERA_STATUS_OK) return report("tessera_tokens_use", s);
        printf("used %s; balance %lld\n", argv[2], (long long)balance);
        return 0;
    }
    if (argc < 3) {
        fprintf(stderr, "usage: %s hold|borrow|return|threads|named|tokens PRODUCT ... | sign-in | browser-sign-in | sign-out\n", argv[0]);
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
