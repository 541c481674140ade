// SPDX-License-Identifier: Apache-2.0
/* Unit tests for exporters/export-options: BuildKit's --output CSV form, --exporter-opt keys,
 * booleans, annotations, the checks between options, --provenance values. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "exporters/export.h"
#include "util/error.h"

static void
test_oci_tar_spec_parses(void **state)
{
	struct export_options o;

	(void)state;
	assert_int_equal(export_options_parse("type=oci,dest=out.tar,name=kx:1", &o, NULL), 0);
	assert_int_equal(o.type, EXPORT_OCI);
	assert_string_equal(o.dest, "out.tar");
	assert_true(o.tar);
	assert_int_equal(o.n_names, 1);
	assert_string_equal(o.names[0], "kx:1");
	assert_int_equal(o.oci_mediatypes, -1);
	assert_false(o.has_compression);
	assert_int_equal(export_options_check(&o, NULL), 0);
	export_options_done(&o);
}

static void
test_quoted_field_keeps_commas(void **state)
{
	struct export_options o;

	(void)state;
	assert_int_equal(export_options_parse("type=image,\"name=a:1,b:2\",push=true,"
	                                      "\"annotation.note=x, \"\"y\"\"\"",
	                                      &o, NULL),
	                 0);
	assert_int_equal(o.n_names, 2);
	assert_string_equal(o.names[0], "a:1");
	assert_string_equal(o.names[1], "b:2");
	assert_true(o.push);
	assert_int_equal(o.n_annotations, 1);
	assert_int_equal(o.annotations[0].target, EXPORT_ANN_MANIFEST);
	assert_string_equal(o.annotations[0].key, "note");
	assert_string_equal(o.annotations[0].value, "x, \"y\"");
	export_options_done(&o);
}

static void
test_every_key_is_read(void **state)
{
	struct export_options o;

	(void)state;
	assert_int_equal(export_options_parse(
	                     "type=image,name=r/x,push=1,push-by-digest=true,name-canonical=T,"
	                     "registry.insecure=true,oci-mediatypes=false,compression=zstd,"
	                     "compression-level=9,force-compression=true,rewrite-timestamp=true,"
	                     "dangling-name-prefix=dangling,annotation-index.i=1,"
	                     "annotation-manifest.m=2,annotation-manifest-descriptor.md=3,"
	                     "annotation-index-descriptor.id=4",
	                     &o, NULL),
	                 0);
	assert_true(o.push && o.push_by_digest && o.name_canonical && o.insecure);
	assert_int_equal(o.oci_mediatypes, 0);
	assert_true(o.has_compression);
	assert_int_equal(o.compression, LAYER_ZSTD);
	assert_int_equal(o.compression_level, 9);
	assert_true(o.force_compression && o.rewrite_timestamp);
	assert_string_equal(o.dangling_name_prefix, "dangling");
	assert_int_equal(o.n_annotations, 4);
	assert_int_equal(o.annotations[0].target, EXPORT_ANN_INDEX);
	assert_int_equal(o.annotations[1].target, EXPORT_ANN_MANIFEST);
	assert_int_equal(o.annotations[2].target, EXPORT_ANN_MANIFEST_DESCRIPTOR);
	assert_int_equal(o.annotations[3].target, EXPORT_ANN_INDEX_DESCRIPTOR);
	assert_string_equal(o.annotations[3].key, "id");
	export_options_done(&o);
}

static void
test_bad_specs_name_the_key(void **state)
{
	static const struct {
		const char *spec;
		int code;
		const char *msg;
	} bad[] = {
	    {"type=oci,dest=x,colour=red", EINVAL, "unknown output option 'colour'"},
	    {"type=oci,dest=x,tar=maybe", EINVAL, "'tar': 'maybe' is not true or false"},
	    {"type=oci,dest", EINVAL, "'dest' is not key=value"},
	    {"type=oci,\"dest=x", EINVAL, "unterminated quote"},
	    {"type=zip,dest=x", EINVAL, "unknown output type 'zip'"},
	    {"type=local,dest=x", ENOTSUP, "not an image exporter"},
	    {"out.tar", ENOTSUP, "no type="},
	    {"type=oci,compression=lz4", EINVAL, "'compression': 'lz4'"},
	    {"type=oci,compression-level=x", EINVAL, "'compression-level': 'x'"},
	    {"type=image,annotation.=v", EINVAL, "no annotation key"},
	    {"type=image,annotation[linux/amd64].k=v", ENOTSUP, "platform-specific"},
	    {"type=image,store=zfs", EINVAL, "'store': 'zfs'"},
	    {"type=image,name=a,,b", EINVAL, "'b' is not key=value"},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct kl_error *e = NULL;
		struct export_options o;

		assert_int_equal(export_options_parse(bad[i].spec, &o, &e), -bad[i].code);
		assert_non_null(e);
		if (!strstr(e->msg, bad[i].msg))
			fail_msg("'%s': message '%s' lacks '%s'", bad[i].spec, e->msg, bad[i].msg);
		kl_error_free(e);
	}
}

static void
check_fails(const char *spec, const char *msg)
{
	struct kl_error *e = NULL;
	struct export_options o;

	assert_int_equal(export_options_parse(spec, &o, NULL), 0);
	assert_int_equal(export_options_check(&o, &e), -EINVAL);
	if (!strstr(e->msg, msg))
		fail_msg("'%s': message '%s' lacks '%s'", spec, e->msg, msg);
	kl_error_free(e);
	export_options_done(&o);
}

static void
test_checks_between_options(void **state)
{
	(void)state;
	check_fails("type=oci", "needs dest=");
	check_fails("type=oci,dest=-,tar=false", "needs a directory");
	check_fails("type=image,push=true", "needs name=NAME to push");
	check_fails("type=image,name=x,dest=f", "takes no dest");
	check_fails("type=oci,dest=f,push=true", "'push' is for type=image");
	check_fails("type=image,name=x,push=true,store=containerd", "two outputs");
	check_fails("type=image,name=x,namespace=n", "are for type=image,store=containerd");
	check_fails("type=oci,dest=f,oci-mediatypes=false,compression=zstd:chunked",
	            "needs OCI media types");
	check_fails("type=docker,dest=f,tar=false", "tar=false is not supported");
	check_fails("type=image,store=containerd", "needs name=NAME for containerd");
}

/* kiln's index keeps an unnamed image (its record gives the image id); buildctl's output= is
 * dest. */
static void
test_unnamed_index_image_and_output_alias(void **state)
{
	struct export_options o;

	(void)state;
	assert_int_equal(export_options_parse("type=image", &o, NULL), 0);
	assert_int_equal(export_options_check(&o, NULL), 0);
	export_options_done(&o);
	assert_int_equal(export_options_parse("type=oci,output=x.tar", &o, NULL), 0);
	assert_string_equal(o.dest, "x.tar");
	export_options_done(&o);
}

static void
test_registry_type_pushes(void **state)
{
	struct export_options o;

	(void)state;
	assert_int_equal(export_options_parse("type=registry,name=h:5000/r:t", &o, NULL), 0);
	assert_int_equal(o.type, EXPORT_IMAGE);
	assert_true(o.push);
	assert_int_equal(export_options_check(&o, NULL), 0);
	export_options_done(&o);
}

static void
test_exporter_opt_form(void **state)
{
	struct export_options o;

	(void)state;
	export_options_init(&o, EXPORT_IMAGE);
	assert_int_equal(export_options_set(&o, "name", "x:1", NULL), 0);
	assert_int_equal(export_options_set(&o, "store", "containerd", NULL), 0);
	assert_int_equal(export_options_set(&o, "namespace", "ns", NULL), 0);
	assert_int_equal(export_options_set(&o, "address", "/run/c.sock", NULL), 0);
	assert_true(o.store_containerd);
	assert_string_equal(o.containerd_namespace, "ns");
	assert_int_equal(export_options_check(&o, NULL), 0);
	export_options_done(&o);
}

static void
test_provenance_values(void **state)
{
	enum export_provenance p;
	struct kl_error *e = NULL;

	(void)state;
	assert_int_equal(export_provenance_parse("mode=max", &p, NULL), 0);
	assert_int_equal(p, EXPORT_PROVENANCE_MAX);
	assert_int_equal(export_provenance_parse("mode=min,builder-id=x", &p, NULL), 0);
	assert_int_equal(p, EXPORT_PROVENANCE_MIN);
	assert_int_equal(export_provenance_parse("true", &p, NULL), 0);
	assert_int_equal(p, EXPORT_PROVENANCE_MIN);
	assert_int_equal(export_provenance_parse("false", &p, NULL), 0);
	assert_int_equal(p, EXPORT_PROVENANCE_NONE);
	assert_int_equal(export_provenance_parse("max", &p, NULL), 0);
	assert_int_equal(p, EXPORT_PROVENANCE_MAX);
	assert_int_equal(export_provenance_parse("mode=full", &p, &e), -EINVAL);
	assert_non_null(strstr(e->msg, "not 'full'"));
	kl_error_free(e);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_oci_tar_spec_parses),
	    cmocka_unit_test(test_quoted_field_keeps_commas),
	    cmocka_unit_test(test_every_key_is_read),
	    cmocka_unit_test(test_bad_specs_name_the_key),
	    cmocka_unit_test(test_checks_between_options),
	    cmocka_unit_test(test_registry_type_pushes),
	    cmocka_unit_test(test_unnamed_index_image_and_output_alias),
	    cmocka_unit_test(test_exporter_opt_form),
	    cmocka_unit_test(test_provenance_values),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
