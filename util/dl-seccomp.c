// SPDX-License-Identifier: Apache-2.0
/* libseccomp loaded on first use and its functions resolved by name; why: util/dl-seccomp.h. */
#include "util/dl-seccomp.h"

#include <stddef.h>

#include "util/dl.h"

static const struct kl_dl_symbol symbols[] = {
    {"seccomp_arch_add", offsetof(struct kl_seccomp, arch_add)},
    {"seccomp_export_bpf", offsetof(struct kl_seccomp, export_bpf)},
    {"seccomp_init", offsetof(struct kl_seccomp, init)},
    {"seccomp_release", offsetof(struct kl_seccomp, release)},
    {"seccomp_rule_add_array", offsetof(struct kl_seccomp, rule_add_array)},
    {"seccomp_syscall_resolve_name", offsetof(struct kl_seccomp, syscall_resolve_name)},
    {"seccomp_version", offsetof(struct kl_seccomp, version)},
};

static struct kl_seccomp table;
static struct kl_dl_library library =
    KL_DL_LIBRARY("libseccomp", KILN_SONAME_SECCOMP, symbols, &table);

int
kl_seccomp_load(struct kl_error **err)
{
	return kl_dl_load(&library, err);
}

const struct kl_seccomp *
kl_seccomp(void)
{
	return kl_dl_table(&library);
}
