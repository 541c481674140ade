/* dockerfile-syntax — what a `# syntax=` directive asks for. kiln runs no frontend images: a
 * Dockerfile frontend of the 1.x line (docker/dockerfile:1, :1.7, :1.7.1, :1-labs, :labs,
 * :latest, docker/dockerfile-upstream…, with or without docker.io/ and a digest) is served by
 * the built-in one; anything else is reported with a warning and built the same way. */
#pragma once
#include <stdbool.h>

/* True when value (the directive's value; only its first word counts, as in BuildKit) names
 * the Dockerfile frontend kiln has built in. */
bool dockerfile_syntax_is_builtin(const char *value);
