/* Neoway N11V2 transparent mode (AT+TCPTRANS / AT+UDPTRANS, manual chapter
 * 12): the model for the engine in trans.c. The module has one transparent
 * link beside its five sockets; this dialect uses only that one. */
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include "at_cmd.h"
#include "trans.h"

/* "+TCPTRANS: OK", "+TCPTRANS:OK" (the manual has both spacings): the text
 * after the tag and its colon, or NULL. */
static const char *after_tag(const char *line, const char *tag)
{
	size_t n = strlen(tag);
	if (strncmp(line, tag, n) || line[n] != ':')
		return NULL;
	line += n + 1;
	while (*line == ' ')
		line++;
	return line;
}

static bool build_ifc(void *ctx, char *out, size_t cap)
{
	struct modem *m = ctx;
	/* The N11V2 manual has no AT+IFC: with rtscts it is tried (a module
	 * that knows it obeys), an ERROR is ignored; CRTSCTS is on the port. */
	snprintf(out, cap, "%s", m->cfg.flow_control == MODEM_FC_RTSCTS ? "AT+IFC=2,2" : "AT");
	return true;
}

static bool build_netapn(void *ctx, char *out, size_t cap)
{
	struct modem *m = ctx;
	return at_cmd_format(out, cap, "AT+NETAPN=%q,%q,%q", m->cfg.apn, m->cfg.user, m->cfg.password);
}

/* "+XIIC:    1,10.232.165.29" */
static bool xiic_up(const char *line)
{
	const char *rest = after_tag(line, "+XIIC");
	struct in_addr a;
	if (!rest || rest[0] != '1' || rest[1] != ',')
		return false;
	return inet_pton(AF_INET, rest + 2, &a) == 1 && a.s_addr != 0;
}

static void capture_ip(void *ctx, const char *line)
{
	struct modem *m = ctx;
	const char *rest = after_tag(line, "+XIIC");
	if (rest && rest[0] == '1' && rest[1] == ',')
		snprintf(m->local_ip, sizeof(m->local_ip), "%s", rest + 2);
}

static const struct at_script_row rows[] = {
	{ .cmd = "AT", .timeout_ms = 1000, .tries = 10, .retry_delay_ms = 1000 },
	{ .cmd = "ATE0", .timeout_ms = 2000, .tries = 3, .retry_delay_ms = 500 },
	{ .cmd = "AT+CMEE=1", .timeout_ms = 2000, .on_fail = AT_ON_FAIL_NEXT },
	{ .build = build_ifc, .timeout_ms = 2000, .on_fail = AT_ON_FAIL_NEXT },
	MODEM_PIN_ROWS,
	{ .cmd = "AT+CGATT?", .expect = "+CGATT: 1", .timeout_ms = 5000, .tries = 60,
	  .retry_delay_ms = 1000 },
	MODEM_INFO_ROWS_N11V2,
	{ .cmd = "AT+XIIC=0", .timeout_ms = 5000, .on_fail = AT_ON_FAIL_NEXT },
	{ .build = build_netapn, .timeout_ms = 5000 },
	{ .cmd = "AT+XIIC=1", .timeout_ms = 10000 },
	{ .cmd = "AT+XIIC?", .match = xiic_up, .capture = capture_ip, .timeout_ms = 2000,
	  .tries = 30, .retry_delay_ms = 1000 },
};

static const struct at_script bringup = {
	.name = "n11v2 transparent bring-up",
	.rows = rows,
	.n_rows = sizeof(rows) / sizeof(rows[0]),
};

/* The manual writes the address unquoted: AT+TCPTRANS=220.199.66.56,6800 */
static bool open_cmd(char *out, size_t cap, enum modem_proto proto, uint32_t ip, uint16_t port)
{
	return at_cmd_format(out, cap, proto == MODEM_UDP ? "AT+UDPTRANS=%a,%u" : "AT+TCPTRANS=%a,%u",
	                     ip, (unsigned)port);
}

/* "+TCPTRANS: ERROR" (bad format, or no PPP link) is the whole answer. */
static enum at_final open_final(const struct at_cmd *cmd, const char *line)
{
	(void)cmd;
	const char *r = after_tag(line, "+TCPTRANS");
	if (!r)
		r = after_tag(line, "+UDPTRANS");
	return r && !strcmp(r, "ERROR") ? AT_FINAL_ERROR : AT_NOT_FINAL;
}

static enum trans_line classify(const char *line)
{
	const char *r = after_tag(line, "+TCPTRANS");
	if (!r)
		r = after_tag(line, "+UDPTRANS");
	if (r) {
		if (!strcmp(r, "OK"))
			return TL_CONNECT;
		if (!strcmp(r, "Link Closed"))
			return TL_CLOSED;
		return TL_FAIL; /* FAIL, ERROR */
	}
	if (!strcmp(line, "GPRS DISCONNECTION"))
		return TL_DOWN;
	if (!strcmp(line, "+PBREADY"))
		return TL_REBOOT;
	return TL_NONE;
}

/* manual, boot log: +PBREADY once the module is up */
static const char *const restarts[] = { "\r\n+PBREADY\r\n", NULL };

static const char *const markers[] = {
	"\r\n+TCPTRANS: Link Closed\r\n", "\r\n+UDPTRANS: Link Closed\r\n",
	"\r\n+TCPTRANS:Link Closed\r\n", "\r\n+UDPTRANS:Link Closed\r\n",
	/* the context lost: the link's line, then this one */
	"\r\nGPRS DISCONNECTION\r\n",
	/* the module restarted under the link */
	"\r\n+PBREADY\r\n", NULL,
};

static bool resolve_cmd(char *out, size_t cap, const char *name)
{
	return at_cmd_format(out, cap, "AT+DNS=%h", name);
}

/* "+DNS:<ip>" per address, then "+DNS:OK"; "+DNS:ERROR" */
static enum trans_dns resolve_line(const char *line, uint32_t *ips, size_t *n)
{
	const char *r = after_tag(line, "+DNS");
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

static enum at_final close_final(const struct at_cmd *cmd, const char *line)
{
	(void)cmd;
	/* "+TRANSCLOSE: 0,OK" ends it; the format line has an OK after it, the
	 * examples none: an OK that follows is its own (AT_F_TRAIL_OK). */
	const char *rest = after_tag(line, "+TRANSCLOSE");
	if (!rest)
		return AT_NOT_FINAL;
	return strstr(rest, "ERROR") ? AT_FINAL_ERROR : strstr(rest, "OK") ? AT_FINAL_OK : AT_NOT_FINAL;
}

static const struct trans_model model = {
	.name = "n11v2 transparent",
	.bringup = &bringup,
	.open_cmd = open_cmd,
	.open_final = open_final,
	.close_cmd = "AT+TRANSCLOSE",
	.close_final = close_final,
	.classify = classify,
	.markers = markers,
	.restarts = restarts,
	.resolve_cmd = resolve_cmd,
	.resolve_line = resolve_line,
};

static bool create(struct modem *m)
{
	return trans_create(m, &model);
}

const struct modem_dialect n11v2_trans_dialect = {
	.name = "n11v2 transparent",
	.max_links = 1,
	.create = create,
	.destroy = trans_destroy,
	.attach = trans_attach,
	.hooks = &trans_hooks,
	.start = trans_start,
	.free_links = trans_free_links,
	.open = trans_open,
	.send = trans_send,
	.send_space = trans_send_space,
	.recv_window = trans_recv_window,
	.close = trans_close,
	.resolve = trans_resolve,
	.ping = trans_ping,
	.reconnect = trans_reconnect,
};
