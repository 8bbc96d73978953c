/* The AT channel: one command in flight, a bounded queue behind it, URC
 * handlers registered by prefix, the "> " prompt and binary payloads.
 *
 * Commands come from two places: the queue (bring-up, open, close) and the
 * idle hook, which the channel calls whenever the line is free and the queue
 * is empty. The dialect's scheduler lives in the idle hook, so data commands
 * are chosen at the last moment (round-robin, full-size chunks).
 */
#ifndef ATB_AT_CHAN_H
#define ATB_AT_CHAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "at_parser.h"

struct ev_loop;
struct at_chan;
struct at_cmd;

#define AT_CMD_TEXT_MAX 256
#define AT_QUEUE_MAX 16
#define AT_URC_MAX 16
/* The most data one command carries (the N11V2's 4096-byte sends), and
 * what data mode may have written but not yet on the line. */
#define AT_DATA_MAX 4096
/* Output: a command's text and CR may still wait when its data follows. */
#define AT_OUT_MAX (AT_CMD_TEXT_MAX + 1 + AT_DATA_MAX)

enum at_result { AT_RES_OK = 0, AT_RES_ERROR, AT_RES_TIMEOUT, AT_RES_CANCELLED };
/* AT_INTERMEDIATE: a line the generic rules would take as final ("OK") is
 * not final for this command (N11V2 sends: OK, then +TCPSEND: <n>,<len>). */
/* AT_PART: the command's distinctive line (a read header, "+CIPACK: ..."):
 * part of its answer, not yet the end; it goes to line(). */
enum at_final { AT_NOT_FINAL = 0, AT_FINAL_OK, AT_FINAL_ERROR, AT_INTERMEDIATE, AT_PART,
	/* internal to the channel: a bare ERROR/+CME ERROR to a strict command
	 * before anything of its own answer */
	AT_BARE_ERROR };

/* at_cmd.flags */
/* Strict: the answer is matched by content. Every line must be taken by
 * final() (AT_PART, a final, AT_INTERMEDIATE), be an ERROR form or a URC;
 * anything else is a stray (loss of sync). A bare OK ends the command only
 * after an AT_PART line; for a send, nothing but an ERROR form may come
 * before the prompt. Data commands are strict. */
#define AT_F_STRICT 0x1u
/* final() ends the command on its distinctive line, and the manual's
 * format line and examples disagree about an OK after it: a bare OK that
 * follows, before anything of the next answer, belongs to this command. */
#define AT_F_TRAIL_OK 0x2u

struct at_cmd {
	char text[AT_CMD_TEXT_MAX]; /* without the trailing CR */
	/* For send commands: written after the "> " prompt, exactly data_len
	 * bytes. Must stay valid until done() runs. */
	const uint8_t *data;
	size_t data_len;
	unsigned timeout_ms;
	/* Extra final results for this command (e.g. "0, CLOSE OK", a bare IP
	 * line); checked before the generic ones. May be NULL. */
	enum at_final (*final)(const struct at_cmd *cmd, const char *line);
	void (*line)(void *ctx, const struct at_cmd *cmd, const char *line);
	void (*payload)(void *ctx, const struct at_cmd *cmd, const uint8_t *data, size_t len);
	/* final_line is the line that ended the command ("" on timeout). */
	void (*done)(void *ctx, const struct at_cmd *cmd, enum at_result res, const char *final_line);
	void *ctx;
	uint32_t tag; /* for the submitter */
	unsigned flags; /* AT_F_* */
	/* Set by the channel for done(): a stray line arrived inside this
	 * command's answer (after its AT_PART line), so what it delivered may
	 * not be what the module meant for it. */
	bool tainted;
};

struct at_chan_hooks {
	/* How many raw bytes follow this line (0 for none). */
	size_t (*payload_len)(void *ctx, const char *line);
	/* Raw bytes that start inside a line after a ',' (N11V2 "+TCPRECV:0,10,"):
	 * see at_parser_ops.inline_payload. May be NULL. */
	size_t (*inline_payload_len)(void *ctx, const char *line);
	/* Lines that are URCs but have no fixed prefix ("0, CLOSED"). Returns
	 * true when it took the line. May be NULL. */
	bool (*urc)(void *ctx, const char *line);
	/* The line is free and the queue empty: a chance to submit. */
	void (*idle)(void *ctx);
	/* The serial fd failed (EOF, EIO). The channel stopped reading. */
	void (*io_error)(void *ctx);
	/* The module is not answering (hung, rebooting, wrong baud): with
	 * resync on, the probes after a timeout went unanswered; with resync
	 * off, AT_STALL_TIMEOUTS commands in a row timed out. May be NULL. */
	void (*stalled)(void *ctx);
	/* Echo was on when the sync check started (the check's own ATE1 was
	 * echoed, and the channel had not turned echo on): the module restarted
	 * (it powers up with echo on) and lost its state. May be NULL. */
	void (*rebooted)(void *ctx);
	/* A line that fits no command in flight and is no URC: a late, repeated
	 * or stray answer (loss of sync). The dialect ends, with loss, the link
	 * the line names (a read answer for link n: its bytes went astray). Also
	 * called for the stale lines a sync check skips. May be NULL. */
	void (*stray)(void *ctx, const char *line);
	/* A sync check ended with the stream aligned (see at_chan_request_sync).
	 * Everything the module said before it has been seen. May be NULL. */
	void (*synced)(void *ctx);
};

#define AT_STALL_TIMEOUTS 3
/* The sync check (docs/architecture.md, "Staying in sync"): after a command
 * timeout the line must first be silent for AT_SYNC_GUARD_MS (at most
 * AT_SYNC_GUARD_MAX_MS of waiting); then ATE1, a nonce line
 * AT+ATBSYNC=<n> whose echo only this check can produce, its final result,
 * and ATE0. Each step waits at most AT_SYNC_STEP_MS. A round that fails is
 * repeated with a new nonce, up to AT_SYNC_ROUNDS rounds; then the module
 * counts as stalled. */
#define AT_SYNC_GUARD_MS 300
#define AT_SYNC_GUARD_MAX_MS 3000
#define AT_SYNC_STEP_MS 1000
#define AT_SYNC_ROUNDS 3
/* How long a send that timed out before its prompt may still get one:
 * until then nothing is written (docs/architecture.md). */
#define AT_ORPHAN_MS 10000
/* A bare OK owed by an AT_F_TRAIL_OK command is waited for this long
 * before a command whose own answer may be a bare OK is written. */
#define AT_TRAIL_OK_MS 100
/* A bare error before anything else of a command's answer stands only if
 * nothing of that answer (its distinctive line, its prompt, an OK) follows
 * within this time: a stray ERROR between answers looks the same, and must
 * cost no flow (nor a transparent link's open). */
#define AT_ERROR_WAIT_MS 250
/* A binary payload that stops arriving is abandoned after this much slack
 * plus three times its length at the line rate (a module that restarted
 * mid-payload must not have its boot messages eaten as data). The slack
 * outlasts a stall of a live module of up to 10 s: giving a read up costs
 * its link. */
#define AT_PAYLOAD_SLACK_MS 12000

struct at_chan_stats {
	uint64_t line_tx, line_rx, commands, timeouts, errors, garbage_lines;
	uint64_t strays;       /* lines that fit no command (loss of sync) */
	uint64_t sync_checks;  /* sync checks completed with the stream aligned */
};

struct at_chan *at_chan_new(struct ev_loop *loop, int fd, const struct at_chan_hooks *hooks, void *ctx);
/* Replaces the hooks (model probe → dialect). */
void at_chan_set_hooks(struct at_chan *c, const struct at_chan_hooks *hooks, void *ctx);
/* Does not close the fd. Pending commands are dropped without callbacks. */
void at_chan_free(struct at_chan *c);

/* Queues a copy of cmd. Returns false when the queue is full. */
bool at_chan_submit(struct at_chan *c, const struct at_cmd *cmd);
/* Drops queued commands (done() with AT_RES_CANCELLED); the one in flight
 * finishes normally. */
void at_chan_cancel_queued(struct at_chan *c);
/* Calls the idle hook if the line is free (new work appeared). */
void at_chan_kick(struct at_chan *c);
bool at_chan_busy(const struct at_chan *c);
size_t at_chan_queued(const struct at_chan *c);

bool at_chan_on_urc(struct at_chan *c, const char *prefix,
                    void (*line)(void *ctx, const char *line),
                    void (*payload)(void *ctx, const uint8_t *data, size_t len), void *ctx);

/* Writes raw bytes to the line, outside any command (used to abort). */
void at_chan_write_raw(struct at_chan *c, const void *buf, size_t len);

void at_chan_get_stats(const struct at_chan *c, struct at_chan_stats *out);

/* Data mode (transparent links: CIPMODE=1, TCPTRANS). While the channel is
 * in data mode every byte read goes to rx() and the parser is bypassed;
 * writable() says the output buffer has room again. */
struct at_chan_data_ops {
	void (*rx)(void *ctx, const uint8_t *buf, size_t len);
	void (*writable)(void *ctx);
};
/* Armed: input is parsed one byte at a time, so that the line which
 * switches to data mode ("CONNECT") is followed by rx() for the very next
 * byte. Arm before the command that may answer CONNECT. */
void at_chan_arm_data(struct at_chan *c, bool armed);
/* ops NULL: back to command mode. Either way the parser starts afresh. */
void at_chan_data_mode(struct at_chan *c, const struct at_chan_data_ops *ops, void *ctx);
bool at_chan_in_data_mode(const struct at_chan *c);
/* Free room in the output buffer (for at_chan_write_raw in data mode). */
size_t at_chan_out_space(const struct at_chan *c);
/* Stops (true) or resumes reading the line: backpressure in data mode. */
void at_chan_pause_rx(struct at_chan *c, bool pause);
/* Reads what has arrived now (unless paused), through the usual path. */
void at_chan_poll_rx(struct at_chan *c);
/* Drops output not yet written to the line, and the kernel's queue. */
void at_chan_drop_out(struct at_chan *c);
/* Parses bytes as if they had been read (a data-mode ending such as
 * "CLOSED" handed back to the URC handlers). */
void at_chan_feed(struct at_chan *c, const uint8_t *buf, size_t len);

/* Resync on (the data link is up): after a command timeout or a stray line
 * nothing more is written until a sync check has shown the stream aligned
 * (synced hook), the module restarted (rebooted hook) or is gone (stalled
 * hook). Off (bring-up, which retries by itself): AT_STALL_TIMEOUTS
 * timeouts in a row call stalled, strays are only counted. Turning it off
 * also ends a check in progress. */
void at_chan_set_resync(struct at_chan *c, bool on);
bool at_chan_resyncing(const struct at_chan *c);
/* Asks for a sync check before the next command (resync on): the dialect
 * wants proof that no answer of an earlier command is still to come, e.g.
 * before it reports a clean close. The synced hook reports it. */
void at_chan_request_sync(struct at_chan *c);
/* For tests: the sync check's guard time and step deadline (ms). */
void at_chan_set_sync_times(struct at_chan *c, unsigned guard_ms, unsigned step_ms);
/* Bits per second on the line (for the payload deadline); default 115200. */
void at_chan_set_line_rate(struct at_chan *c, unsigned baud);
/* The module restarted: the command in flight will never be answered. It
 * ends now (done() with AT_RES_CANCELLED) instead of at its timeout. */
void at_chan_abort_current(struct at_chan *c);

/* Generic final result of a line: OK, ERROR, +CME ERROR..., +CMS ERROR...,
 * SHUT OK, CLOSE OK, SEND OK, SEND FAIL. Forms with a link number
 * ("0, CLOSE OK", "DATA ACCEPT:0,5") are left to the command's own matcher. */
enum at_final at_final_generic(const char *line);
/* Skips "<digits>," and an optional space; returns the rest or NULL. The
 * number goes to *n. */
const char *at_skip_link_prefix(const char *line, int *n);
/* Reads n comma-separated decimal numbers (spaces around them allowed) from
 * s into out. False on anything else or a number over 10^9. Trailing text
 * after the last number is ignored. */
bool at_parse_uints(const char *s, unsigned *out, int n);

#endif
