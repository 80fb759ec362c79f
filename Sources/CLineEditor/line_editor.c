#include "CLineEditor.h"
#include "doll_lua.h"
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <readline/readline.h>
#include <readline/history.h>

static doll_le_complete_fn g_complete = 0;
static char *g_line = 0;
static int g_state = 0;   /* 0 waiting, 1 line, 2 eof */

static char **attempt(const char *text, int start, int end) {
    (void)text;
    rl_attempted_completion_over = 1;   /* never fall back to readline's file names */
    if (!g_complete || !rl_line_buffer) return NULL;
    int append = 0;
    char **m = g_complete(rl_line_buffer, start, end, &append);
    rl_completion_append_character = append;
    return m;
}

void doll_le_setup(const char *word_breaks, doll_le_complete_fn complete, const char *history_path, int limit) {
    rl_readline_name = "doll";
    rl_catch_signals = 0;
    rl_completer_word_break_characters = strdup(word_breaks);
    rl_completer_quote_characters = NULL;
    /* Otherwise readline appends the quote that opened a string after a completed path (it
     * treats a basic quote character before the word as the word's delimiter), closing the
     * string after a folder one wants to go into. */
    rl_basic_quote_characters = "";
    rl_attempted_completion_function = attempt;
    g_complete = complete;
    using_history();
    stifle_history(limit);
    if (history_path) read_history(history_path);
}

static void on_line(char *line) {
    if (line) { g_line = line; g_state = 1; } else { g_state = 2; }
    rl_callback_handler_remove();
}

int doll_le_read(const char *prompt, char **line) {
    g_line = 0; g_state = 0;
    doll_lua_clear_interrupt();
    rl_callback_handler_install(prompt, on_line);
    while (g_state == 0) {
        struct pollfd fds = { .fd = fileno(rl_instream ? rl_instream : stdin), .events = POLLIN, .revents = 0 };
        int r = poll(&fds, 1, -1);
        if (r < 0) {
            if (errno != EINTR) { rl_callback_handler_remove(); g_state = 2; break; }
            if (doll_lua_interrupted()) {
                doll_lua_clear_interrupt();
                rl_free_line_state();
                rl_callback_sigcleanup();
                rl_cleanup_after_signal();
                rl_callback_handler_remove();
                fputs("^C\n", stdout);
                fflush(stdout);
                return -1;
            }
            continue;
        }
        if (fds.revents & (POLLIN | POLLHUP)) rl_callback_read_char();
        if (g_state == 0 && (fds.revents & (POLLERR | POLLNVAL | POLLHUP)) && !(fds.revents & POLLIN)) {
            rl_callback_handler_remove();
            g_state = 2;
        }
    }
    if (g_state == 1) { *line = g_line; return 1; }
    return 0;
}

void doll_le_remember(const char *line, const char *history_path) {
    add_history(line);
    if (!history_path) return;
    FILE *f = fopen(history_path, "r");
    if (f) { fclose(f); append_history(1, history_path); } else { write_history(history_path); }
}

void doll_le_close(const char *history_path, int limit) {
    if (history_path) history_truncate_file(history_path, limit);
}
