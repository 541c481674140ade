/* error — the one error convention: negative errno plus an optional message a person reads.
 *
 * A fallible function returns >= 0 on success or -errno on failure; when it takes
 * `struct kl_error **err` (always last) it fills *err on failure, unless err is NULL. */
#pragma once

struct kl_error {
	int code;  /* positive errno */
	char *msg; /* one line, no final period */
};

/* Records "msg: strerror(code)" in *err (when err is non-NULL and still empty) and returns -code.
 * code is a positive errno (a negative one is taken as -code, 0 as EIO). A second set keeps the
 * first, innermost message. */
int kl_error_set(struct kl_error **err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* As kl_error_set but the message is used as is, without strerror (for parse errors). */
int kl_error_setf(struct kl_error **err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Prepends "what: " to an existing message (no-op when err or *err is NULL). It returns
 * nothing: with err NULL the code is unknown here, so the caller returns its own. */
void kl_error_prefix(struct kl_error **err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Frees e (NULL-safe). */
void kl_error_free(struct kl_error *e);
/* For _cleanup_(kl_error_freep): frees *e and clears it. */
static inline void
kl_error_freep(struct kl_error **e)
{
	kl_error_free(*e);
	*e = (struct kl_error *)0;
}
