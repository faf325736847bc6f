#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <editline/readline.h>

#include "CLineEdit.h"

/*
 * The completion callback and its context. libedit's readline API has no user-data pointer for
 * rl_attempted_completion_function, so the Swift side's callback lives here; the REPL runs on
 * one thread.
 */
static crashsh_le_completer completer_function;
static void *completer_context;

struct crashsh_le_candidates {
    char **items;
    size_t count;
    size_t capacity;
};

/* The candidates of the completion in progress, handed out one by one by next_candidate. */
static struct crashsh_le_candidates pending;
static size_t pending_next;

static void pending_clear(void)
{
    for (size_t i = pending_next; i < pending.count; i++)
        free(pending.items[i]);
    free(pending.items);
    pending.items = NULL;
    pending.count = pending.capacity = 0;
    pending_next = 0;
}

int crashsh_le_isatty(int fd) { return isatty(fd); }

extern char **environ;
char *const *crashsh_le_environment(void) { return environ; }

void crashsh_le_add_candidate(crashsh_le_candidates *c, const char *candidate)
{
    if (c == NULL || candidate == NULL)
        return;
    if (c->count == c->capacity) {
        size_t capacity = c->capacity ? c->capacity * 2 : 16;
        char **items = realloc(c->items, capacity * sizeof *items);
        if (items == NULL)
            return;
        c->items = items;
        c->capacity = capacity;
    }
    char *copy = strdup(candidate);
    if (copy != NULL)
        c->items[c->count++] = copy;
}

/* Generator for rl_completion_matches: returns the next candidate (ownership passes to libedit). */
static char *next_candidate(const char *text, int state)
{
    (void)text;
    (void)state;
    if (pending_next < pending.count)
        return pending.items[pending_next++];
    return NULL;
}

static char **attempt_completion(const char *text, int start, int end)
{
    (void)end;
    rl_attempted_completion_over = 1; /* never fall back to file-name completion */
    if (completer_function == NULL)
        return NULL;
    pending_clear();
    const char *line = rl_line_buffer ? rl_line_buffer : "";
    completer_function(completer_context, line, start, text ? text : "", &pending);
    if (pending.count == 0)
        return NULL;
    return rl_completion_matches(text ? text : "", next_candidate);
}

void crashsh_le_set_completer(crashsh_le_completer completer, void *context)
{
    completer_function = completer;
    completer_context = context;
}

/* Set by Ctrl-C; long-running commands may poll and clear it (crashsh_le_take_interrupt). */
static volatile sig_atomic_t interrupted;
/* What the REPL is doing (CRASHSH_LE_AT_PROMPT ...), for the Ctrl-C handler. */
static volatile sig_atomic_t activity;

/* When the pending Ctrl-C came (CLOCK_MONOTONIC seconds). */
static volatile sig_atomic_t interrupted_at;

static void on_interrupt(int signo)
{
    if (activity == CRASHSH_LE_IN_SHELL_COMMAND)
        return; /* the pipe's shell command (less, grep) gets its own Ctrl-C */
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now); /* async-signal-safe */
    if (activity == CRASHSH_LE_IN_COMMAND && interrupted && now.tv_sec - interrupted_at >= 2) {
        /* A command has not noticed a Ctrl-C for over a second (stuck outside its polling
         * loops): a further Ctrl-C gives up on it, as the user evidently wants, by ending the
         * process the default way. A quick second press while the first is being taken is
         * only a repeat. */
        signal(signo, SIG_DFL);
        raise(signo);
        return;
    }
    if (!interrupted)
        interrupted_at = (sig_atomic_t)now.tv_sec;
    interrupted = 1;
}

void crashsh_le_set_activity(int what) { activity = what; }

int crashsh_le_take_interrupt(void)
{
    int was = interrupted;
    interrupted = 0;
    return was;
}

void crashsh_le_setup(const char *program_name, int history_limit)
{
    /* Ctrl-C must not end an interactive session: it is recorded, and at the prompt it
     * abandons the line being typed (libedit returns an empty line). */
    struct sigaction action;
    memset(&action, 0, sizeof action);
    action.sa_handler = on_interrupt;
    sigemptyset(&action.sa_mask);
    sigaction(SIGINT, &action, NULL);
    /* A parent may have started crashsh with SIGINT blocked (the mask is inherited): Ctrl-C
     * would then never reach the handler. */
    sigset_t interrupt_only;
    sigemptyset(&interrupt_only);
    sigaddset(&interrupt_only, SIGINT);
    sigprocmask(SIG_UNBLOCK, &interrupt_only, NULL);
    rl_readline_name = program_name;
    rl_attempted_completion_function = attempt_completion;
    using_history();
    if (history_limit > 0)
        stifle_history(history_limit);
}

char *crashsh_le_readline(const char *prompt)
{
    activity = CRASHSH_LE_AT_PROMPT;
    char *line = readline(prompt);
    activity = CRASHSH_LE_IN_COMMAND;
    return line;
}

void crashsh_le_free(char *line) { free(line); }

void crashsh_le_add_history(const char *line) { add_history(line); }

int crashsh_le_read_history(const char *path) { return read_history(path); }

int crashsh_le_write_history(const char *path) { return write_history(path); }
