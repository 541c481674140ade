/* dockerfile-heredoc — heredoc markers in an instruction's words, as BuildKit finds them:
 * `[N]<<[-]WORD` (blanks allowed after the "<<"), the word lexed like a shell word, a quoted
 * word (<<'EOF', <<"EOF", <<E"O"F) turning expansion of the body off, "<<-" stripping the
 * body's leading tabs. Pure; used by the parser (to read the bodies) and by the instruction
 * layer (to tell heredoc sources from paths). */
#pragma once
#include <stdbool.h>
#include <stddef.h>

struct kl_error;

struct dockerfile_heredoc_marker {
	char *name;  /* the terminating word, quotes and escapes removed */
	unsigned fd; /* N of N<<WORD, 0 when not given */
	bool chomp;  /* <<- */
	bool expand; /* no part of the word was quoted */
};

/* BuildKit's ParseHeredoc: 1 with *ret filled (free with dockerfile_heredoc_marker_done) when
 * word is a marker, 0 when it is not one, -EINVAL when its word does not lex (an unterminated
 * quote). */
int dockerfile_heredoc_parse_word(const char *word, size_t len,
                                  struct dockerfile_heredoc_marker *ret, struct kl_error **err);

/* BuildKit's heredocsFromLine: the markers among the shell words of a whole instruction line,
 * in order. A line that does not lex has none. *ret is a malloc'd array (NULL when *ret_n is
 * 0); free with dockerfile_heredoc_markers_free. */
int dockerfile_heredocs_from_line(const char *line, size_t len,
                                  struct dockerfile_heredoc_marker **ret, size_t *ret_n,
                                  struct kl_error **err);

/* Frees the marker's name. */
void dockerfile_heredoc_marker_done(struct dockerfile_heredoc_marker *m);
/* Frees an array of n markers. */
void dockerfile_heredoc_markers_free(struct dockerfile_heredoc_marker *v, size_t n);

/* The body with the tabs that start each of its lines removed (what <<- asks for), as a new
 * string of *ret_len bytes. */
char *dockerfile_heredoc_chomp(const char *body, size_t len, size_t *ret_len);
