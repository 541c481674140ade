/* log — leveled log lines through one sink that only cli/ installs.
 *
 * Library code logs at debug; a long-running server with no caller to hand an error to
 * (the FUSE server) may warn. Failures are not logged here: they are returned, and cli/main.c
 * reports each one once. */
#pragma once
#include <stdbool.h>

enum kl_log_level { KL_LOG_DEBUG, KL_LOG_INFO, KL_LOG_WARN, KL_LOG_ERROR, _KL_LOG_MAX };

typedef void (*kl_log_fn)(enum kl_log_level level, const char *line, void *userdata);

/* Installs the sink (NULL: lines go to stderr as "kiln: line") and the lowest level shown
 * (until then: info and above, to stderr). Call once, before threads start. */
void kl_log_setup(enum kl_log_level min_level, kl_log_fn fn, void *userdata);
/* True when lines of level are shown; kl_debug() asks first, so a debug line costs one compare
 * when debug is off. */
bool kl_log_enabled(enum kl_log_level level);
/* Formats one line (no trailing newline) and hands it to the sink when level is shown. */
void kl_log(enum kl_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define kl_debug(...)                                                                              \
	do {                                                                                       \
		if (kl_log_enabled(KL_LOG_DEBUG))                                                  \
			kl_log(KL_LOG_DEBUG, __VA_ARGS__);                                         \
	} while (0)
#define kl_warn(...) kl_log(KL_LOG_WARN, __VA_ARGS__)
