/* Neoway N11V2 multi-link: the model for the engine in mlink.c. PPP link
 * by AT+XIIC, five sockets (0-4) with AT+TCPSETUP/AT+UDPSETUP, buffered
 * receive (AT+RCVMODE=0: "+TCPRECV: <n>" announces data, AT+TCPREAD reads
 * it with the data inside the answer line), sends with
 * AT+TCPSEND=<n>,<len> after a bare ">" prompt, completed by
 * "+TCPSEND: <n>,<len>" after the OK. Only data here: command texts, how
 * each answer ends (docs/modems.md, "How each answer ends"), what the lines
 * say, the bring-up table. */
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include "at_cmd.h"
#include "n11v2.h"

#define LINKS 5

/* "+TCPSEND: 0,5", "+TCPSEND:0,5", "+ UDPREAD: 1,..." (the manual has that
 * space too): the text after the prefix and its colon, or NULL. */
const char *n11v2_after_tag(const char *line, const char *name)
{
	if (*line++ != '+')
		return NULL;
	while (*line == ' ')
		line++;
	size_t n = strlen(name);
	if (strncmp(line, name, n) || line[n] != ':')
		return NULL;
	line += n + 1;
	while (*line == ' ')
		line++;
	return line;
}

#define after_tag n11v2_after_tag

/* After "+<a>:" or "+<b>:" (TCP and UDP forms of one answer). */
static const char *after_either(const char *line, const char *a, const char *b)
{
	const char *rest = after_tag(line, a);
	return rest ? rest : after_tag(line, b);
}

/* ---- bring-up ---- */

bool n11v2_build_netapn(void *ctx, char *out, size_t cap)
{
	struct modem *m = ctx;
	return at_cmd_format(out, cap, "AT+NETAPN=%q,%q,%q", m->cfg.apn, m->cfg.user, m->cfg.password);
}

/* "+XIIC:    1,10.232.165.29" (the manual: four spaces before the 1) */
bool n11v2_xiic_up(const char *line)
{
	const char *rest = after_tag(line, "XIIC");
	struct in_addr a;
	if (!rest || rest[0] != '1' || rest[1] != ',')
		return false;
	return inet_pton(AF_INET, rest + 2, &a) == 1 && a.s_addr != 0;
}

void n11v2_capture_ip(void *ctx, const char *line)
{
	struct modem *m = ctx;
	const char *rest = after_tag(line, "XIIC");
	if (rest && rest[0] == '1' && rest[1] == ',')
		snprintf(m->local_ip, sizeof(m->local_ip), "%s", rest + 2);
}

static const struct at_script_row bringup_rows[] = {
	MODEM_SYNC_ROWS,
	{ .cmd = "AT+CMEE=1", .timeout_ms = 2000, .on_fail = AT_ON_FAIL_NEXT },
	MODEM_ATTACH_ROWS(MODEM_INFO_ROWS_N11V2),
	/* Start from no PPP link and no sockets (may fail when none is up). */
	{ .cmd = "AT+XIIC=0", .timeout_ms = 5000, .on_fail = AT_ON_FAIL_NEXT },
	{ .cmd = "AT+RCVMODE=0,0", .timeout_ms = 2000 },
	{ .cmd = "AT+DATAFORMAT=1,1", .timeout_ms = 2000, .on_fail = AT_ON_FAIL_NEXT },
	{ .build = n11v2_build_netapn, .label = "AT+NETAPN", .timeout_ms = 2000 },
	{ .cmd = "AT+XIIC=1", .timeout_ms = 10000 },
	{ .cmd = "AT+XIIC?", .match = n11v2_xiic_up, .capture = n11v2_capture_ip, .timeout_ms = 2000,
	  .tries = 30, .retry_delay_ms = 1000 },
};

static const struct at_script bringup = {
	.name = "n11v2 bring-up",
	.rows = bringup_rows,
	.n_rows = sizeof(bringup_rows) / sizeof(bringup_rows[0]),
};

/* ---- commands ---- */

static bool udp(const struct at_cmd *cmd)
{
	return !strncmp(cmd->text, "AT+UDP", 6);
}

/* The name a command's answers carry: "TCPSEND" for AT+TCPSEND=..,
 * "TCPSENDS" for an accepted link's AT+TCPSENDS=... */
static const char *cmd_tag(const struct at_cmd *cmd, char *buf, size_t cap)
{
	const char *eq = strchr(cmd->text, '=');
	size_t n = eq ? (size_t)(eq - cmd->text) : strlen(cmd->text);
	if (n < 3 || n - 3 >= cap)
		return "";
	memcpy(buf, cmd->text + 3, n - 3);
	buf[n - 3] = '\0';
	return buf;
}

static bool build_open(char *out, size_t cap, const struct mlink_req *r)
{
	/* The manual writes the address unquoted: AT+TCPSETUP=0,220.199.66.56,6800 */
	return at_cmd_format(out, cap, r->proto == MODEM_UDP ? "AT+UDPSETUP=%u,%a,%u" : "AT+TCPSETUP=%u,%a,%u",
	                     r->id, r->ip, (unsigned)r->port);
}

static bool build_send(char *out, size_t cap, const struct mlink_req *r)
{
	return at_cmd_format(out, cap, r->proto == MODEM_UDP ? "AT+UDPSEND=%u,%u" : "AT+TCPSEND=%u,%u", r->id,
	                     (unsigned)r->len);
}

static bool build_read(char *out, size_t cap, const struct mlink_req *r)
{
	return at_cmd_format(out, cap, r->proto == MODEM_UDP ? "AT+UDPREAD=%u,%u" : "AT+TCPREAD=%u,%u", r->id,
	                     (unsigned)r->len);
}

static bool build_ack(char *out, size_t cap, const struct mlink_req *r)
{
	return at_cmd_format(out, cap, "AT+TCPACK=%u", r->id);
}

static bool build_close(char *out, size_t cap, const struct mlink_req *r)
{
	return at_cmd_format(out, cap, r->proto == MODEM_UDP ? "AT+UDPCLOSE=%u" : "AT+TCPCLOSE=%u", r->id);
}

static bool build_status(char *out, size_t cap, const struct mlink_req *r)
{
	return at_cmd_format(out, cap, "AT+IPSTATUS=%u", r->id);
}

/* ---- how each answer ends ---- */

/* OK comes first and is not the end; "+TCPSEND: <n>,<len>" is. Every other
 * "+TCPSEND:" answer is an error (OPERATION EXPIRED, DATA LENGTH ERROR,
 * SOCKET ID OPEN FAILED, BUFFER NOT ENOUGH,<m>, GPRS DISCONNECTION). The
 * manual also spells the command TCPSSEND/UDPSSEND: both answers count. */
static enum at_final send_final(const struct at_cmd *cmd, const char *line)
{
	char tag[16];
	if (!strcmp(line, "OK"))
		return AT_INTERMEDIATE;
	const char *rest = after_tag(line, cmd_tag(cmd, tag, sizeof(tag)));
	if (!rest)
		rest = after_tag(line, udp(cmd) ? "UDPSSEND" : "TCPSSEND");
	if (!rest)
		return AT_NOT_FINAL;
	unsigned v[2];
	if (at_parse_uints(rest, v, 2))
		return v[0] == MLINK_TAG_LINK(cmd) && v[1] <= cmd->data_len ? AT_FINAL_OK : AT_NOT_FINAL;
	return AT_FINAL_ERROR;
}

/* "+TCPREAD: <n>,<len>,<data>" for this link: data follows, then OK. */
static enum at_final read_final(const struct at_cmd *cmd, const char *line)
{
	const char *rest = after_tag(line, udp(cmd) ? "UDPREAD" : "TCPREAD");
	unsigned v[2];
	if (rest && at_parse_uints(rest, v, 2) && v[0] == MLINK_TAG_LINK(cmd))
		return AT_PART;
	return AT_NOT_FINAL;
}

/* "+TCPACK: <n>,<sent>,<acked>" ends the query (manual 8.6: no OK in the
 * format line nor the examples; an OK after it is taken as its own).
 * "+TCPACK: <n>,DISCONNECT" and "+TCPACK: NO TCP LINK" are errors. */
static enum at_final ack_final(const struct at_cmd *cmd, const char *line)
{
	char tag[16];
	const char *rest = after_tag(line, cmd_tag(cmd, tag, sizeof(tag)));
	unsigned v[3];
	int n;
	if (!rest)
		return AT_NOT_FINAL;
	if (at_parse_uints(rest, v, 3))
		return v[0] == MLINK_TAG_LINK(cmd) ? AT_FINAL_OK : AT_NOT_FINAL;
	if (at_skip_link_prefix(rest, &n) && n != (int)MLINK_TAG_LINK(cmd))
		return AT_NOT_FINAL;
	return AT_FINAL_ERROR;
}

/* "+TCPCLOSE: <n>,OK" (8.4; its format line has an OK after it, its
 * example none), "+TCPCLOSE: <n>,Link Closed" for the same link (closed
 * either way), "+TCPCLOSE: ERROR". UDPCLOSE alike. */
static enum at_final close_final(const struct at_cmd *cmd, const char *line)
{
	const char *rest = after_tag(line, udp(cmd) ? "UDPCLOSE" : "TCPCLOSE");
	int n;
	const char *what = rest ? at_skip_link_prefix(rest, &n) : NULL;
	if (!rest)
		return AT_NOT_FINAL;
	if (!what)
		return strstr(rest, "ERROR") ? AT_FINAL_ERROR : AT_NOT_FINAL;
	if (n != (int)MLINK_TAG_LINK(cmd))
		return AT_NOT_FINAL;
	return AT_FINAL_OK;
}

/* "+IPSTATUS: <n>,CONNECT|DISCONNECT[,...]" (8.5: no OK in the format line
 * nor the examples) or "+IPSTATUS: ERROR". */
static enum at_final status_final(const struct at_cmd *cmd, const char *line)
{
	const char *rest = after_tag(line, "IPSTATUS");
	int n;
	const char *what = rest ? at_skip_link_prefix(rest, &n) : NULL;
	if (!rest)
		return AT_NOT_FINAL;
	if (!what)
		return strstr(rest, "ERROR") ? AT_FINAL_ERROR : AT_NOT_FINAL;
	return n == (int)MLINK_TAG_LINK(cmd) ? AT_FINAL_OK : AT_NOT_FINAL;
}

/* "+TCPSETUP: <n>,OK|FAIL" comes after OK and is a notification;
 * "+TCPSETUP: ERROR" or "+TCPSETUP: <n>,ERROR1" can come instead of OK. */
static enum at_final open_final(const struct at_cmd *cmd, const char *line)
{
	const char *rest = after_tag(line, udp(cmd) ? "UDPSETUP" : "TCPSETUP");
	if (rest && strstr(rest, "ERROR"))
		return AT_FINAL_ERROR;
	return AT_NOT_FINAL;
}

/* ---- what the answers say ---- */

/* ERROR1: the socket is in use in the module. */
static bool open_in_use(const char *final_line)
{
	return strstr(final_line, "ERROR1") != NULL;
}

/* BUFFER NOT ENOUGH: the module's buffer is full; an accepted link's
 * "+TCPSENDS: ERROR" is congestion (13.5). */
static bool send_full(const char *final_line)
{
	return strstr(final_line, "BUFFER NOT ENOUGH") != NULL || !strcmp(final_line, "+TCPSENDS: ERROR");
}

static size_t send_accepted(const struct at_cmd *cmd, const char *final_line)
{
	char tag[16];
	const char *rest = after_tag(final_line, cmd_tag(cmd, tag, sizeof(tag)));
	unsigned v[2];
	if (rest && at_parse_uints(rest, v, 2) && v[1] <= cmd->data_len)
		return v[1];
	return cmd->data_len;
}

/* "+TCPREAD: <n>,<len>,": no "remaining" field. */
static int read_head(const struct mlink_rx *rx, const char *line, struct mlink_head *h)
{
	const char *rest = after_tag(line, rx->dgram ? "UDPREAD" : "TCPREAD");
	unsigned v[2];
	if (!rest || !at_parse_uints(rest, v, 2))
		return -1;
	h->id = v[0];
	h->len = v[1];
	h->rest = 0;
	h->rest_known = false;
	return 1;
}

/* "+TCPREAD: <n>,<len>," and "+UDPREAD: <n>,<len>,": the data starts here. */
static size_t payload_len(const struct mlink_rx *rx, const char *line)
{
	(void)rx;
	const char *rest = after_either(line, "TCPREAD", "UDPREAD");
	if (!rest)
		rest = after_tag(line, "TCPRECV(S)"); /* an accepted link's push */
	unsigned v[2];
	if (!rest || !at_parse_uints(rest, v, 2))
		return 0;
	const char *second = strchr(rest, ',');
	const char *third = second ? strchr(second + 1, ',') : NULL;
	if (!third || third[1] != '\0')
		return 0;
	return v[1];
}

/* "+TCPACK: <n>,<data_sent>,<acked_rcv>", "+TCPACKS: ..." for an
 * accepted link */
static bool ack_inflight(const char *line, unsigned id, size_t *inflight)
{
	const char *rest = after_either(line, "TCPACK", "TCPACKS");
	unsigned v[3];
	if (!rest || !at_parse_uints(rest, v, 3) || v[0] != id || v[2] > v[1])
		return false;
	*inflight = v[1] - v[2];
	return true;
}

static int status_open(const char *line, unsigned id)
{
	const char *rest = after_tag(line, "IPSTATUS");
	int n;
	const char *what = rest ? at_skip_link_prefix(rest, &n) : NULL;
	if (!what || n != (int)id)
		return -1;
	return !strncmp(what, "CONNECT", 7) && strncmp(what, "CONNECTING", 10);
}

static int stray_link(const char *line)
{
	static const char *const names[] = { "TCPREAD", "UDPREAD", "TCPSEND", "UDPSEND", "TCPSSEND", "UDPSSEND",
		                             "TCPSENDS" };
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		const char *rest = after_tag(line, names[i]);
		unsigned v[2];
		if (rest && at_parse_uints(rest, v, 2))
			return (int)v[0];
	}
	return -1;
}

/* ---- resolver (both link modes) ---- */

bool n11v2_dns_cmd(char *out, size_t cap, const char *name)
{
	return at_cmd_format(out, cap, "AT+DNS=%h", name);
}

/* "+DNS:<ip>" per address, then "+DNS:OK"; "+DNS:ERROR" */
enum trans_dns n11v2_dns_line(const char *line, uint32_t *ips, size_t *n)
{
	const char *r = n11v2_after_tag(line, "DNS");
	if (!r)
		return TD_NONE;
	if (!strcmp(r, "OK"))
		return TD_DONE;
	struct in_addr a;
	if (inet_pton(AF_INET, r, &a) == 1) {
		if (*n < MODEM_RESOLVE_MAX)
			ips[(*n)++] = a.s_addr;
		return TD_ADDR;
	}
	return TD_FAIL;
}

/* ---- notifications ---- */

/* ev for the socket number that rest (after a tag) starts with. */
static enum mlink_event socket_event(const char *rest, int *link, enum mlink_event ev)
{
	unsigned id;
	if (!rest || !at_parse_uints(rest, &id, 1))
		return ME_NONE;
	*link = id < LINKS ? (int)id : -1;
	return ev;
}

/* "+TCPSETUP: <n>,OK" / "+TCPSETUP: <n>,FAIL" (and UDP) */
static enum mlink_event setup_urc(const char *line, int *link)
{
	const char *rest = after_either(line, "TCPSETUP", "UDPSETUP");
	const char *what = rest ? at_skip_link_prefix(rest, link) : NULL;
	if (!what)
		return ME_NONE;
	if (!strcmp(what, "OK"))
		return ME_CONNECT_OK;
	return strstr(what, "ERROR1") ? ME_IN_USE : ME_CONNECT_FAIL;
}

/* "+TCPRECV: <n>" / "+UDPRECV: <n>[,<len>]": data waits in the module. */
static enum mlink_event recv_urc(const char *line, int *link)
{
	return socket_event(after_either(line, "TCPRECV", "UDPRECV"), link, ME_READABLE);
}

/* "+TCPCLOSE: <n>,Link Closed": the remote end or the network closed it.
 * "+TCPCLOSE: <n>,OK" answers our own TCPCLOSE, which ends on it. */
static enum mlink_event close_urc(const char *line, int *link)
{
	const char *rest = after_either(line, "TCPCLOSE", "UDPCLOSE");
	const char *what = rest ? at_skip_link_prefix(rest, link) : NULL;
	return what && !strncmp(what, "Link Closed", 11) ? ME_CLOSED : ME_NONE;
}


/* ---- server sockets (manual chapter 13; docs/modems.md) ---- */

static bool build_listen(char *out, size_t cap, const struct mlink_req *r)
{
	return at_cmd_format(out, cap, "AT+TCPLISTEN=%u", (unsigned)r->port);
}

static bool build_sends(char *out, size_t cap, const struct mlink_req *r)
{
	return at_cmd_format(out, cap, "AT+TCPSENDS=%u,%u", r->id, (unsigned)r->len);
}

static bool build_acks(char *out, size_t cap, const struct mlink_req *r)
{
	return at_cmd_format(out, cap, "AT+TCPACKS=%u", r->id);
}

static bool build_closeclient(char *out, size_t cap, const struct mlink_req *r)
{
	return at_cmd_format(out, cap, "AT+CLOSECLIENT=%u", r->id);
}

/* "+TCPLISTEN: <socket>,OK", "Listening..." (listening already): done;
 * "+TCPLISTEN: bind error", "+TCPLISTEN: ERROR": refused. The format line
 * has no OK after them; one that follows is taken as theirs. */
static enum at_final listen_final(const struct at_cmd *cmd, const char *line)
{
	(void)cmd;
	const char *rest = after_tag(line, "TCPLISTEN");
	if (!strcmp(line, "Listening..."))
		return AT_FINAL_OK;
	if (!rest)
		return AT_NOT_FINAL;
	size_t n = strlen(rest);
	return n >= 3 && !strcmp(rest + n - 3, ",OK") ? AT_FINAL_OK : AT_FINAL_ERROR;
}

static int listen_result(const char *final_line, int *sock)
{
	const char *rest = after_tag(final_line, "TCPLISTEN");
	unsigned id;
	*sock = -1;
	if (rest && at_parse_uints(rest, &id, 1))
		*sock = id < LINKS ? (int)id : -1;
	return rest || !strcmp(final_line, "Listening...") ? 1 : -1;
}

/* "+CLOSECLIENT: <n>,remote link closed" for this link. */
static enum at_final closeclient_final(const struct at_cmd *cmd, const char *line)
{
	const char *rest = after_tag(line, "CLOSECLIENT");
	int n;
	const char *what = rest ? at_skip_link_prefix(rest, &n) : NULL;
	return what && n == (int)MLINK_TAG_LINK(cmd) ? AT_FINAL_OK : AT_NOT_FINAL;
}

/* "AcceptSocket=<n>,ClientAddr=<ip>,ClientPort=<port>" */
static enum mlink_event accept_urc(const char *line, int *link)
{
	return socket_event(strncmp(line, "AcceptSocket=", 13) ? NULL : line + 13, link, ME_ACCEPTED);
}

static void accept_peer(const char *line, uint32_t *ip, uint16_t *port)
{
	const char *a = strstr(line, "ClientAddr="), *p = strstr(line, "ClientPort=");
	char buf[16];
	struct in_addr in;
	unsigned v;
	if (a) {
		a += 11;
		size_t n = strcspn(a, ",");
		if (n < sizeof(buf)) {
			memcpy(buf, a, n);
			buf[n] = '\0';
			if (inet_pton(AF_INET, buf, &in) == 1)
				*ip = in.s_addr;
		}
	}
	if (p && at_parse_uints(p + 11, &v, 1) && v <= 65535)
		*port = (uint16_t)v;
}

/* "+TCPRECV(S): <n>,<len>,<data>": an accepted link's data (13.4). */
static enum mlink_event push_urc(const char *line, int *link)
{
	return socket_event(after_tag(line, "TCPRECV(S)"), link, ME_PUSH);
}

/* "+CLOSELISTEN: <n>,local link closed": the listener closed, or (13.2's
 * example) the client closed accepted link <n>; the engine tells which by
 * the socket. "+CLOSECLIENT: <n>,remote link closed" out of turn: the
 * accepted link is gone. */
static enum mlink_event server_close_urc(const char *line, int *link)
{
	const char *rest = after_either(line, "CLOSELISTEN", "CLOSECLIENT");
	return rest && at_skip_link_prefix(rest, link) ? ME_CLOSED : ME_NONE;
}

static const struct mlink_urc urcs[] = {
	{ "+TCPSETUP:", setup_urc, ME_NONE },
	{ "+UDPSETUP:", setup_urc, ME_NONE },
	{ "+TCPRECV:", recv_urc, ME_NONE },
	{ "+UDPRECV:", recv_urc, ME_NONE },
	{ "+TCPCLOSE:", close_urc, ME_NONE },
	{ "+TCPRECV(S):", push_urc, ME_NONE },
	{ "AcceptSocket=", accept_urc, ME_NONE },
	{ "+CLOSELISTEN:", server_close_urc, ME_NONE },
	{ "+CLOSECLIENT:", server_close_urc, ME_NONE },
	{ "Connect", NULL, ME_INFO }, /* 13.1's example before AcceptSocket */
	{ "GPRS DISCONNECTION", NULL, ME_DOWN },
	{ "+PBREADY", NULL, ME_RESTART }, /* the manual's boot log */
};

const struct mlink_model n11v2_multi = {
	.name = "n11v2",
	.links = LINKS,
	.chunk = 4096, /* 8.2 and 11.2: <length> 1..4096; TCPREAD has no limit */
	.connect_timeout = 80.0,
	.retry_s = 0.2,
	.bringup = &bringup,
	.open = { build_open, open_final, 0 },
	.send = { build_send, send_final, AT_F_STRICT },
	.read = { build_read, read_final, AT_F_STRICT },
	.ack = { build_ack, ack_final, AT_F_STRICT | AT_F_TRAIL_OK },
	.close = { build_close, close_final, AT_F_STRICT | AT_F_TRAIL_OK },
	.status = { build_status, status_final, AT_F_STRICT | AT_F_TRAIL_OK },
	.open_in_use = open_in_use,
	.send_full = send_full,
	.send_accepted = send_accepted,
	.read_head = read_head,
	.payload_len = payload_len,
	.payload_inline = true,
	.ack_inflight = ack_inflight,
	.status_open = status_open,
	.stray_link = stray_link,
	.urcs = urcs,
	.n_urcs = sizeof(urcs) / sizeof(urcs[0]),
	.resolve_cmd = n11v2_dns_cmd,
	.resolve_prefix = "+DNS:",
	.resolve_line = n11v2_dns_line,
	.queries = &n11v2_queries,
	.listen = { build_listen, listen_final, AT_F_TRAIL_OK },
	.listeners = 1,
	.listen_result = listen_result,
	.accept_peer = accept_peer,
	.send_in = { build_sends, send_final, AT_F_STRICT },
	.ack_in = { build_acks, ack_final, AT_F_STRICT | AT_F_TRAIL_OK },
	.close_in = { build_closeclient, closeclient_final, AT_F_STRICT | AT_F_TRAIL_OK },
	.push_in = true,
};
