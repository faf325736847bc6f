#ifndef CRASHSH_CLINEEDIT_H
#define CRASHSH_CLINEEDIT_H

/*
 * A small non-variadic face over libedit's readline-compatible API for the crashsh REPL.
 * Swift cannot call variadic C functions (el_set, history) nor touch libedit's mutable
 * globals under strict concurrency, so everything the REPL needs goes through these
 * functions, all prefixed crashsh_le_.
 */

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Non-zero when fd is a terminal. */
int crashsh_le_isatty(int fd);

/* The process environment (environ), for spawning the shell of a `cmd | shell-command` pipe;
 * Swift 6 cannot read the mutable C global itself. */
char *const *crashsh_le_environment(void);

/*
 * Prepares line editing: program name for ~/.editrc, a bounded history, tab completion
 * through the callback set with crashsh_le_set_completer, and a SIGINT handler that records
 * Ctrl-C instead of ending the process.
 */
void crashsh_le_setup(const char *program_name, int history_limit);

/* Non-zero if Ctrl-C was pressed since the last call (and clears the record). */
int crashsh_le_take_interrupt(void);

/*
 * What the interactive shell is doing, for Ctrl-C: at the prompt it abandons the line; during a
 * command it is recorded for the command to notice, and a second one ends crashsh; while a pipe's
 * shell command runs, it is left to that command. While a command writes into a pipe or the pager,
 * Ctrl-C reaches both: the reader (less, grep) acts on it, and it is recorded for the command,
 * never ending crashsh. crashsh_le_readline sets the first two itself.
 */
enum {
    CRASHSH_LE_AT_PROMPT = 0,
    CRASHSH_LE_IN_COMMAND = 1,
    CRASHSH_LE_IN_SHELL_COMMAND = 2,
    CRASHSH_LE_IN_PIPED_COMMAND = 3,
};
void crashsh_le_set_activity(int what);

/*
 * Reads one line with editing. Returns a malloc'd string without the newline (free it with
 * crashsh_le_free), or NULL at end of input (Ctrl-D).
 */
char *crashsh_le_readline(const char *prompt);
void crashsh_le_free(char *line);

/* History: add one entry; load and save a history file. Return 0 on success. */
void crashsh_le_add_history(const char *line);
int crashsh_le_read_history(const char *path);
int crashsh_le_write_history(const char *path);

/* Opaque collector of completion candidates handed to the completer callback. */
typedef struct crashsh_le_candidates crashsh_le_candidates;

/* Adds one candidate (copied) for the word being completed. */
void crashsh_le_add_candidate(crashsh_le_candidates *candidates, const char *candidate);

/*
 * The completer: given the whole line, the byte offset where the word under the cursor
 * starts, and that word, it adds the possible completions of the word to `candidates`.
 */
typedef void (*crashsh_le_completer)(void *context, const char *line, int word_start,
                                     const char *word, crashsh_le_candidates *candidates);

/* Installs (or with NULL removes) the completer; `context` is passed back unchanged. */
void crashsh_le_set_completer(crashsh_le_completer completer, void *context);

#ifdef __cplusplus
}
#endif

#endif
