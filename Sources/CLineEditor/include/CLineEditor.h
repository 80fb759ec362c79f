#ifndef DOLL_LINE_EDITOR_H
#define DOLL_LINE_EDITOR_H
/* GNU readline for the REPL, driven through its callback interface so that Ctrl-C (our SIGINT
 * handler sets a flag, see doll_lua.h) cancels the line being typed instead of killing the
 * process. Swift only sees these functions: readline's globals stay in C. */

/* Completion: given the whole line and the word's byte range, returns a malloc'ed,
 * NULL-terminated list of malloc'ed strings — the common prefix first, then the matches
 * (readline frees it) — or NULL. *append receives the character to add after a single match
 * (0 for none). */
typedef char **(*doll_le_complete_fn)(const char *line, int start, int end, int *append);

/* Configures readline (application name, word-break characters, completion, no signal
 * handlers of its own) and loads the history file (capped at limit entries). */
void doll_le_setup(const char *word_breaks, doll_le_complete_fn complete, const char *history_path, int limit);

/* Reads one line with prompt. Returns 1 with *line set (malloc'ed; free it), 0 at end of input
 * (Ctrl-D), -1 when Ctrl-C cancelled the line. */
int doll_le_read(const char *prompt, char **line);

/* Adds a line to the history and appends it to the history file. */
void doll_le_remember(const char *line, const char *history_path);

/* Trims the history file to the limit. */
void doll_le_close(const char *history_path, int limit);

#endif
