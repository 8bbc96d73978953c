/* SIM7000 multi-link: the model for the engine in mlink.c. CIPMUX=1,
 * manual receive (CIPRXGET=1), quick send (CIPQSEND=1) with an in-flight
 * bound from CIPACK. Eight links; the link id is the module's connection
 * number. Only data here: command texts, how each answer ends
 * (docs/modems.md, "How each answer ends"), what the lines say, the
 * bring-up table. */
#include <arpa/inet.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "at_cmd.h"
#include "mlink.h"
#include "sim7000.h"

#define LINKS 8

/* ---- bring-up ---- */

bool sim7000_build_cstt(void *ctx, char *out, size_t cap)
{
	struct modem *m = ctx;
	return at_cmd_format(out, cap, "AT+CSTT=%q,%q,%q", m->cfg.apn, m->cfg.user, m->cfg.password);
}

enum at_final sim7000_cifsr_final(const struct at_cmd *cmd, const char *line)
{
	(void)cmd;
	unsigned a, b, c, d;
	char extra;
	if (sscanf(line, "%u.%u.%u.%u%c", &a, &b, &c, &d, &extra) == 4 && a < 256 && b < 256 &&
	    c < 256 && d < 256)
		return AT_FINAL_OK;
	return AT_NOT_FINAL;
}

void sim7000_capture_ip(void *ctx, const char *line)
{
	struct modem *m = ctx;
	snprintf(m->local_ip, sizeof(m->local_ip), "%s", line);
}

static const struct at_script_row bringup_rows[] = {
	MODEM_SYNC_ROWS,
	{ .cmd = "AT+CMEE=1", .timeout_ms = 2000, .tries = 2, .retry_delay_ms = 500 },
	MODEM_ATTACH_ROWS(MODEM_INFO_ROWS_SIM7000),
	{ .cmd = "AT+CIPSHUT", .expect = "SHUT OK", .timeout_ms = 65000, .tries = 2,
	  .retry_delay_ms = 1000 },
	{ .cmd = "AT+CIPMUX=1", .timeout_ms = 2000 },
	{ .cmd = "AT+CIPRXGET=1", .timeout_ms = 2000 },
	{ .cmd = "AT+CIPQSEND=1", .timeout_ms = 2000 },
	{ .build = sim7000_build_cstt, .label = "AT+CSTT", .timeout_ms = 5000 },
	{ .cmd = "AT+CIICR", .timeout_ms = 85000 },
	{ .cmd = "AT+CIFSR", .final = sim7000_cifsr_final, .timeout_ms = 5000, .capture = sim7000_capture_ip },
};

static const struct at_script bringup = {
	.name = "sim7000 bring-up",
	.rows = bringup_rows,
	.n_rows = sizeof(bringup_rows) / sizeof(bringup_rows[0]),
};

/* ---- commands ---- */

static bool build_open(char *out, size_t cap, const struct mlink_req *r)
{
	return at_cmd_format(out, cap, "AT+CIPSTART=%u,%q,\"%a\",%u", r->id,
	                     r->proto == MODEM_UDP ? "UDP" : "TCP", r->ip, (unsigned)r->port);
}

static bool build_send(char *out, size_t cap, const struct mlink_req *r)
{
	return at_cmd_format(out, cap, "AT+CIPSEND=%u,%u", r->id, (unsigned)r->len);
}

static bool build_read(char *out, size_t cap, const struct mlink_req *r)
{
	return at_cmd_format(out, cap, "AT+CIPRXGET=2,%u,%u", r->id, (unsigned)r->len);
}

static bool build_query(char *out, size_t cap, const struct mlink_req *r)
{
	return at_cmd_format(out, cap, "AT+CIPRXGET=4,%u", r->id);
}

static bool build_ack(char *out, size_t cap, const struct mlink_req *r)
{
	return at_cmd_format(out, cap, "AT+CIPACK=%u", r->id);
}

static bool build_close(char *out, size_t cap, const struct mlink_req *r)
{
	return at_cmd_format(out, cap, "AT+CIPCLOSE=%u,1", r->id);
}

static bool build_status(char *out, size_t cap, const struct mlink_req *r)
{
	return at_cmd_format(out, cap, "AT+CIPSTATUS=%u", r->id);
}

/* ---- how each answer ends ---- */

static enum at_final link_final(const struct at_cmd *cmd, const char *line, const char *word,
                                enum at_final kind)
{
	int n;
	const char *rest = at_skip_link_prefix(line, &n);
	if (rest && n == (int)MLINK_TAG_LINK(cmd) && !strcmp(rest, word))
		return kind;
	return AT_NOT_FINAL;
}

/* "DATA ACCEPT:<n>,<len>" (quick send) or "<n>, SEND OK|FAIL", for this
 * link and no more than was sent. */
static enum at_final send_final(const struct at_cmd *cmd, const char *line)
{
	unsigned v[2];
	/* "DATA ACCEPT:<n>,<len>" (app note), "DATA ACCEPT: <len>" (the
	 * manual's single-link form, also seen with a link id elsewhere) */
	if (!strncmp(line, "DATA ACCEPT:", 12)) {
		if (at_parse_uints(line + 12, v, 2))
			return v[0] == MLINK_TAG_LINK(cmd) && v[1] <= cmd->data_len ? AT_FINAL_OK : AT_NOT_FINAL;
		return at_parse_uints(line + 12, v, 1) && !strchr(line + 12, ',') && v[0] <= cmd->data_len
		               ? AT_FINAL_OK
		               : AT_NOT_FINAL;
	}
	enum at_final f = link_final(cmd, line, "SEND OK", AT_FINAL_OK);
	return f != AT_NOT_FINAL ? f : link_final(cmd, line, "SEND FAIL", AT_FINAL_ERROR);
}

/* "+CIPRXGET: 2,<n>,<len>,<rest>" for this link: the distinctive line of a
 * read (what follows it is payload, OK). A header that names another link
 * is not this read's. */
static enum at_final read_final(const struct at_cmd *cmd, const char *line)
{
	unsigned v[3];
	if (!strncmp(line, "+CIPRXGET: 2,", 13) && at_parse_uints(line + 13, v, 3) && v[0] == MLINK_TAG_LINK(cmd))
		return AT_PART;
	return AT_NOT_FINAL;
}

/* "+CIPRXGET: 4,<n>,<rest>" for this link */
static enum at_final query_final(const struct at_cmd *cmd, const char *line)
{
	unsigned v[2];
	if (!strncmp(line, "+CIPRXGET: 4,", 13) && at_parse_uints(line + 13, v, 2) && v[0] == MLINK_TAG_LINK(cmd))
		return AT_PART;
	return AT_NOT_FINAL;
}

/* "+CIPACK: <txlen>,<acklen>,<nacklen>" */
static enum at_final ack_final(const struct at_cmd *cmd, const char *line)
{
	(void)cmd;
	unsigned v[3];
	return !strncmp(line, "+CIPACK:", 8) && at_parse_uints(line + 8, v, 3) ? AT_PART : AT_NOT_FINAL;
}

static enum at_final close_final(const struct at_cmd *cmd, const char *line)
{
	return link_final(cmd, line, "CLOSE OK", AT_FINAL_OK);
}

/* "+CIPSTATUS: <n>,<bearer>,"TCP","<ip>","<port>","<state>"" for this link */
static enum at_final status_final(const struct at_cmd *cmd, const char *line)
{
	int n;
	if (strncmp(line, "+CIPSTATUS: ", 12) || !at_skip_link_prefix(line + 12, &n) ||
	    n != (int)MLINK_TAG_LINK(cmd))
		return AT_NOT_FINAL;
	return AT_PART;
}

/* ---- what the answers say ---- */

/* CIPSTART answered ERROR: the link is in use in the module (the manual's
 * "ALREADY CONNECT" comes as ERROR in multi-link mode). */
static bool open_in_use(const char *final_line)
{
	(void)final_line;
	return true;
}

static size_t send_accepted(const struct at_cmd *cmd, const char *final_line)
{
	unsigned v[2];
	if (!strncmp(final_line, "DATA ACCEPT:", 12)) {
		if (at_parse_uints(final_line + 12, v, 2) && v[1] <= cmd->data_len)
			return v[1];
		if (!strchr(final_line + 12, ',') && at_parse_uints(final_line + 12, v, 1) &&
		    v[0] <= cmd->data_len)
			return v[0];
	}
	return cmd->data_len;
}

/* "+CIPRXGET: 2,<id>,<a>,<b>": how many bytes follow, and how many are
 * left (rest_known false: the module did not say). The app note's example
 * (AT+CIPRXGET=2,1460 answered "+CIPRXGET: 2,11,0" and 11 bytes) reads a as
 * the bytes that follow and b as those left; the manual's format line names
 * them <reqlength>,<cnflength>: the length asked for, then the bytes that
 * follow. Until the module has shown which it plays, a read asks for no more
 * than CIPRXGET=4 said was waiting (hint), and bytes never leave the module's
 * buffer but through our reads, so at least <asked> wait:
 *   manual:   "2,<asked>,<asked>"
 *   app note: "2,<asked>,<waiting - asked>"
 * Both put <asked> bytes after the header; only "<asked>,<asked>" leaves the
 * reading open, and a read asking for less than half the hint closes it
 * (the app note's b would then exceed <asked>). A header neither reading can
 * give is refused (-1): the read's answer is then garbage and taints it.
 * A UDP read cannot ask for less (it would cut a datagram): it asks 1460,
 * and "1460,<k>" with k below is the manual's for sure when more than 1460+k
 * waited; otherwise it is guessed, without settling anything: the manual's
 * when fewer than 1460 waited at the query, the app note's (a datagram of
 * exactly 1460) when more did. A wrong guess costs that datagram, through
 * the taint. */
int sim7000_rxget_decode(int reading, size_t asked, size_t hint, bool dgram, const unsigned v[3],
                         size_t *len, size_t *rest, bool *rest_known)
{
	if (reading == RXGET_UNKNOWN && asked) {
		if (v[1] < asked || v[2] > asked)
			reading = RXGET_APPNOTE;
		else if (dgram && hint != SIZE_MAX && hint > asked + v[2])
			reading = RXGET_MANUAL;
		else if (dgram) {
			bool manual = hint == SIZE_MAX || hint < asked;
			*len = manual ? v[2] : v[1];
			*rest_known = !manual;
			*rest = manual ? 0 : v[2];
			return RXGET_UNKNOWN;
		} else if (hint == SIZE_MAX || hint < asked)
			return -1; /* undecided reads ask no more than the hint */
		else if (v[2] < asked)
			reading = RXGET_APPNOTE;
		else if (2 * (size_t)asked < hint)
			reading = RXGET_MANUAL;
		else {
			*len = asked;
			*rest_known = false;
			*rest = 0;
			return RXGET_UNKNOWN;
		}
	}
	if (reading == RXGET_MANUAL) {
		*len = v[2];
		*rest = 0;
		*rest_known = false;
	} else {
		*len = v[1];
		*rest = v[2];
		*rest_known = true;
	}
	return reading == RXGET_UNKNOWN ? RXGET_APPNOTE : reading;
}

static int read_head(const struct mlink_rx *rx, const char *line, struct mlink_head *h)
{
	unsigned v[3];
	if (strncmp(line, "+CIPRXGET: 2,", 13) || !at_parse_uints(line + 13, v, 3))
		return -1;
	h->id = v[0];
	return sim7000_rxget_decode(rx->reading, rx->req, rx->hint, rx->dgram, v, &h->len, &h->rest,
	                            &h->rest_known);
}

static bool query_head(const char *line, unsigned *id, size_t *rest)
{
	unsigned v[2];
	if (strncmp(line, "+CIPRXGET: 4,", 13) || !at_parse_uints(line + 13, v, 2))
		return false;
	*id = v[0];
	*rest = v[1];
	return true;
}

/* "+CIPRXGET: 2,<id>,<a>,<b>[,<ip>:<port>]": the payload after the line */
static size_t payload_len(const struct mlink_rx *rx, const char *line)
{
	struct mlink_head h;
	return read_head(rx, line, &h) < 0 ? 0 : h.len;
}

static bool ack_inflight(const char *line, unsigned id, size_t *inflight)
{
	(void)id; /* the answer has no link id: it is the one asked */
	unsigned v[3];
	if (strncmp(line, "+CIPACK:", 8) || !at_parse_uints(line + 8, v, 3))
		return false;
	*inflight = v[2];
	return true;
}

/* The state, the last quoted field, without the padding some firmware
 * puts inside the quotes (" CONNECTED "). */
static int status_open(const char *line, unsigned id)
{
	int n;
	if (strncmp(line, "+CIPSTATUS: ", 12) || !at_skip_link_prefix(line + 12, &n) || n != (int)id)
		return -1;
	const char *end = strrchr(line, '"');
	const char *start = end && end > line ? end - 1 : NULL;
	while (start && start > line && *start != '"')
		start--;
	if (!start || *start != '"')
		return 0;
	for (start++; start < end && *start == ' '; start++)
		;
	while (end > start && end[-1] == ' ')
		end--;
	size_t len = (size_t)(end - start);
	return (len == 9 && !strncmp(start, "CONNECTED", 9)) || (len == 10 && !strncmp(start, "CONNECTING", 10));
}

static int stray_link(const char *line)
{
	unsigned v[2];
	int id;
	const char *rest;
	if ((!strncmp(line, "+CIPRXGET: 2,", 13) || !strncmp(line, "+CIPRXGET: 4,", 13)) &&
	    at_parse_uints(line + 13, v, 1))
		return (int)v[0];
	if (!strncmp(line, "DATA ACCEPT:", 12) && at_parse_uints(line + 12, v, 2))
		return (int)v[0];
	if ((rest = at_skip_link_prefix(line, &id)) && (!strcmp(rest, "SEND OK") || !strcmp(rest, "SEND FAIL")))
		return id;
	return -1;
}

/* ---- resolver (both link modes) ---- */

bool sim7000_cdnsgip_cmd(char *out, size_t cap, const char *name)
{
	return at_cmd_format(out, cap, "AT+CDNSGIP=%h", name);
}

/* Next "..." field of a +CDNSGIP line: copies it to out, returns the text
 * after it, or NULL. */
const char *sim7000_next_quoted(const char *p, char *out, size_t cap)
{
	while (*p == ',' || *p == ' ')
		p++;
	if (*p != '"')
		return NULL;
	const char *end = strchr(p + 1, '"');
	if (!end || (size_t)(end - p - 1) >= cap)
		return NULL;
	memcpy(out, p + 1, (size_t)(end - p - 1));
	out[end - p - 1] = '\0';
	return end + 1;
}

/* "+CDNSGIP: 1,<name>,<IP1>[,<IP2>]" or "+CDNSGIP:0,<err>" (the manual
 * writes the failure form without a space). */
enum trans_dns sim7000_cdnsgip_line(const char *line, uint32_t *ips, size_t *n)
{
	if (strncmp(line, "+CDNSGIP:", 9))
		return TD_NONE;
	const char *p = line + 9;
	while (*p == ' ')
		p++;
	if (*p != '1')
		return TD_FAIL;
	char name[256], ip[64];
	p = sim7000_next_quoted(p + 1, name, sizeof(name));
	while (p && *n < MODEM_RESOLVE_MAX && (p = sim7000_next_quoted(p, ip, sizeof(ip)))) {
		struct in_addr a;
		if (inet_pton(AF_INET, ip, &a) == 1)
			ips[(*n)++] = a.s_addr;
	}
	return TD_DONE;
}

/* ---- notifications ---- */

/* "+CIPRXGET: 1,<id>[,<ip>:<port>]" */
static enum mlink_event rxget_urc(const char *line, int *link)
{
	unsigned id;
	if (strncmp(line, "+CIPRXGET: 1,", 13) || !at_parse_uints(line + 13, &id, 1))
		return ME_NONE;
	*link = (int)id;
	return ME_READABLE;
}

/* "<n>, CONNECT OK|CONNECT FAIL|ALREADY CONNECT|CLOSED" */
static enum mlink_event link_urc(const char *line, int *link)
{
	const char *rest = at_skip_link_prefix(line, link);
	if (!rest || *link >= LINKS)
		return ME_NONE;
	if (!strcmp(rest, "CONNECT OK"))
		return ME_CONNECT_OK;
	if (!strcmp(rest, "CONNECT FAIL"))
		return ME_CONNECT_FAIL;
	if (!strcmp(rest, "ALREADY CONNECT"))
		return ME_IN_USE;
	if (!strcmp(rest, "CLOSED"))
		return ME_CLOSED;
	if (!strncmp(rest, "REMOTE IP: ", 11))
		return ME_ACCEPTED;
	return ME_NONE;
}

/* ---- server (AT manual 8.2.19, app note 3.2; docs/modems.md) ---- */

static bool build_listen(char *out, size_t cap, const struct mlink_req *r)
{
	return at_cmd_format(out, cap, "AT+CIPSERVER=1,%u", (unsigned)r->port);
}

/* OK, then "SERVER OK" as a notification. */
static int listen_result(const char *final_line, int *sock)
{
	*sock = -1;
	return !strcmp(final_line, "SERVER OK") ? 1 : 0;
}

/* "<n>, REMOTE IP: <ip>" (no port) */
static void accept_peer(const char *line, uint32_t *ip, uint16_t *port)
{
	const char *p = strstr(line, "REMOTE IP: ");
	struct in_addr a;
	(void)port;
	if (p && inet_pton(AF_INET, p + 11, &a) == 1)
		*ip = a.s_addr;
}

static const struct mlink_urc urcs[] = {
	{ "+CIPRXGET: 1", rxget_urc, ME_NONE },
	{ "+PDP: DEACT", NULL, ME_DOWN }, /* the network released the context */
	{ "RDY", NULL, ME_RESTART },
	{ "SERVER OK", NULL, ME_LISTENING },
	{ "SERVER CLOSE", NULL, ME_LISTEN_CLOSED },
	{ NULL, link_urc, ME_NONE },
};

const struct mlink_model sim7000_multi = {
	.name = "sim7000",
	.links = LINKS,
	.chunk = 1460,
	.connect_timeout = 80.0, /* manual: 75 s max in multi-IP mode */
	.retry_s = 0.1,
	.bringup = &bringup,
	.open = { build_open, NULL, 0 },
	.send = { build_send, send_final, AT_F_STRICT },
	.read = { build_read, read_final, AT_F_STRICT },
	.query = { build_query, query_final, AT_F_STRICT },
	.ack = { build_ack, ack_final, AT_F_STRICT },
	.close = { build_close, close_final, AT_F_STRICT },
	.status = { build_status, status_final, AT_F_STRICT },
	.open_in_use = open_in_use,
	.send_accepted = send_accepted,
	.read_head = read_head,
	.query_head = query_head,
	.payload_len = payload_len,
	.ack_inflight = ack_inflight,
	.status_open = status_open,
	.stray_link = stray_link,
	.urcs = urcs,
	.n_urcs = sizeof(urcs) / sizeof(urcs[0]),
	.resolve_cmd = sim7000_cdnsgip_cmd,
	.resolve_prefix = "+CDNSGIP:",
	.resolve_line = sim7000_cdnsgip_line,
	.queries = &sim7000_queries,
	.listen = { build_listen, NULL, 0 },
	.listeners = 1,
	.listen_result = listen_result,
	.accept_peer = accept_peer,
};
