/* Declarative AT conversations: a script is a table of rows (command,
 * expected reply, timeout, tries, what to do on failure) run by one engine
 * on an at_chan. Bring-up and recovery of every dialect are scripts. */
#ifndef ATB_AT_SCRIPT_H
#define ATB_AT_SCRIPT_H

#include <stdbool.h>
#include <stddef.h>

#include "at_chan.h"

struct ev_loop;

enum at_on_fail {
	AT_ON_FAIL_ABORT = 0, /* the script fails */
	AT_ON_FAIL_NEXT,      /* ignore, go on with the next row */
};

struct at_script_row {
	const char *cmd; /* literal command text, or NULL when build is set */
	/* Builds the command from outside values (through at_cmd_format). False
	 * fails the script without retries: the values are wrong, not the line. */
	bool (*build)(void *ctx, char *out, size_t cap);
	/* A line (prefix match) that must be seen before the final OK; NULL when
	 * the final result alone decides. */
	const char *expect;
	/* Instead of expect's prefix: a line is the expected one when this
	 * says so (for answers with variable spacing). */
	bool (*match)(const char *line);
	/* Extra final results (e.g. CIFSR's bare IP line). */
	enum at_final (*final)(const struct at_cmd *cmd, const char *line);
	unsigned timeout_ms;
	unsigned tries; /* attempts, 0 counts as 1 */
	unsigned retry_delay_ms;
	enum at_on_fail on_fail;
	/* Gets the expected line, or the final line when expect is NULL. */
	void (*capture)(void *ctx, const char *line);
	/* capture gets every information line of the answer instead (not the
	 * final result); expect/match still decide whether the row passed. */
	bool capture_lines;
	/* The row is skipped (as if it passed) when this says so. May be NULL. */
	bool (*skip)(void *ctx);
	/* What messages call a built row (its text may hold a secret). */
	const char *label;
};

struct at_script {
	const char *name;
	const struct at_script_row *rows;
	size_t n_rows;
};

struct at_script_run;

/* done(ctx, ok, failed_row): failed_row is the index of the row that failed
 * (undefined when ok). */
struct at_script_run *at_script_run_new(struct ev_loop *loop, struct at_chan *chan,
                                        void (*done)(void *ctx, bool ok, size_t failed_row),
                                        void *ctx);
void at_script_run_free(struct at_script_run *r);
/* Starts script from row 0 (stopping any script in progress). */
void at_script_start(struct at_script_run *r, const struct at_script *script);
/* Stops without calling done(). A command in flight finishes unseen. */
void at_script_stop(struct at_script_run *r);
bool at_script_running(const struct at_script_run *r);

#endif
