/* A scripted SIM7000 on the master side of a pty, for tests of the dialect
 * without atbridge-sim. Every link echoes what is sent to it. Deliberately
 * small: it answers the commands the dialect uses, in the forms the manual
 * shows (with a configurable choice of the ambiguous spellings). */
#ifndef FAKE_SIM7000_H
#define FAKE_SIM7000_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct ev_loop;
struct fake;

struct fake_opts {
	bool space_after_comma;  /* "0, CONNECT OK" vs "0,CONNECT OK" */
	bool data_accept_space;  /* "DATA ACCEPT: 0,10" vs "DATA ACCEPT:0,10" */
	bool urc_inside_replies; /* a +CIPRXGET: 1 for a quiet link between echo and reply */
	bool lose_rxget_urc;     /* never send +CIPRXGET: 1 (the safety poll must cope) */
	unsigned cgatt_zero_polls; /* answer +CGATT: 0 this many times first */
	unsigned ack_lag;        /* CIPACK reports this many bytes as not acked (until queried twice) */
	unsigned ack_lag_ms;     /* with ack_lag: the lag lasts this long from the first query
	                          * that reports it; the first query after that reports all
	                          * acked, the next one starts a new lag */
	bool refuse_port_9;      /* CIPSTART to port 9 gives CONNECT FAIL */
	unsigned cstt_errors;    /* answer ERROR to the first CSTTs (bring-up must retry) */
	int send_fail_link;      /* sends on this link (if > 0) end in "<n>, SEND FAIL" */
	int error_link;          /* sends and reads on this link (if > 0) are answered ERROR */
	bool already_connect_0;  /* the first CIPSTART on link 0 says ALREADY CONNECT */
	bool rxget_manual;       /* "+CIPRXGET: 2,<n>,<reqlength>,<cnflength>" (the manual's
	                          * format line) instead of the app note's <read>,<left> */
	bool late_halves;        /* half of each echo arrives only after the next
	                          * CIPRXGET=4 is answered (data coming between a
	                          * query and the read that follows it) */
};

struct fake *fake_new(struct ev_loop *loop, const struct fake_opts *o, char *slave_path, size_t cap);
void fake_free(struct fake *f);
/* Sends a URC line (CRLF added). */
void fake_urc(struct fake *f, const char *line);
/* The remote end of link n closes after its echo buffer is read. */
void fake_remote_close(struct fake *f, int link);
/* A client connects to the listener; link n is its (CIPSERVER). */
void fake_accept_link(struct fake *f, int n, const char *ip);
/* Stops (true) or resumes answering commands. */
void fake_mute(struct fake *f, bool mute);
/* Counters */
unsigned fake_count(const struct fake *f, const char *cmd_prefix);
size_t fake_max_read_req(const struct fake *f);
/* Lengths of the last sends (CIPSEND=<n>,<len>), oldest first. */
size_t fake_send_lengths(const struct fake *f, unsigned *out, size_t cap);

#endif
