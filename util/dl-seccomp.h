/* dl-seccomp — libseccomp, loaded with dlopen() on first use (util/dl.h): the functions kiln
 * calls.
 *
 * Why not linked: only the first RUN step with crun in a store compiles the seccomp profile
 * (solver/exec-seccomp-bpf.c); linked, libseccomp's loading and relocation were 0.3 ms of
 * every command's start (2.8 -> 3.1 ms for `kiln --version`), 3 % of a no-op rebuild.
 * Thread-safe. */
#pragma once
#include <seccomp.h>

struct kl_error;

/* The libseccomp functions kiln calls, named without their seccomp_ prefix and typed from its
 * headers. */
struct kl_seccomp {
	typeof(seccomp_arch_add) *arch_add;
	typeof(seccomp_export_bpf) *export_bpf;
	typeof(seccomp_init) *init;
	typeof(seccomp_release) *release;
	typeof(seccomp_rule_add_array) *rule_add_array;
	typeof(seccomp_syscall_resolve_name) *syscall_resolve_name;
	typeof(seccomp_version) *version;
};

/* Loads libseccomp (KILN_SONAME_SECCOMP, the soname found at build time) on the first call.
 * -ELIBACC, with err naming it, when it cannot be loaded. */
int kl_seccomp_load(struct kl_error **err);
/* libseccomp's functions, for code that runs after kl_seccomp_load() succeeded. It loads them
 * if need be and aborts if it cannot: a bug, when the caller skipped kl_seccomp_load(). */
const struct kl_seccomp *kl_seccomp(void);
