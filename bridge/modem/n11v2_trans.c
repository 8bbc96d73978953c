/* Neoway N11V2 transparent mode (AT+TCPTRANS / AT+UDPTRANS, manual chapter
 * 12): the model for the engine in trans.c. The module has one transparent
 * link beside its five sockets; this dialect uses only that one. */
#include <stdio.h>
#include <string.h>

#include "at_cmd.h"
#include "n11v2.h"

static const struct at_script_row rows[] = {
	MODEM_SYNC_ROWS,
	{ .cmd = "AT+CMEE=1", .timeout_ms = 2000, .on_fail = AT_ON_FAIL_NEXT },
	{ .build = trans_build_ifc, .label = "AT+IFC", .timeout_ms = 2000, .on_fail = AT_ON_FAIL_NEXT },
	MODEM_ATTACH_ROWS(MODEM_INFO_ROWS_N11V2),
	{ .cmd = "AT+XIIC=0", .timeout_ms = 5000, .on_fail = AT_ON_FAIL_NEXT },
	{ .build = n11v2_build_netapn, .timeout_ms = 5000 },
	{ .cmd = "AT+XIIC=1", .timeout_ms = 10000 },
	{ .cmd = "AT+XIIC?", .match = n11v2_xiic_up, .capture = n11v2_capture_ip, .timeout_ms = 2000,
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
	const char *r = n11v2_after_tag(line, "TCPTRANS");
	if (!r)
		r = n11v2_after_tag(line, "UDPTRANS");
	return r && !strcmp(r, "ERROR") ? AT_FINAL_ERROR : AT_NOT_FINAL;
}

static enum trans_line classify(const char *line)
{
	const char *r = n11v2_after_tag(line, "TCPTRANS");
	if (!r)
		r = n11v2_after_tag(line, "UDPTRANS");
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

static enum at_final close_final(const struct at_cmd *cmd, const char *line)
{
	(void)cmd;
	/* "+TRANSCLOSE: 0,OK" ends it; the format line has an OK after it, the
	 * examples none: an OK that follows is its own (AT_F_TRAIL_OK). */
	const char *rest = n11v2_after_tag(line, "TRANSCLOSE");
	if (!rest)
		return AT_NOT_FINAL;
	return strstr(rest, "ERROR") ? AT_FINAL_ERROR : strstr(rest, "OK") ? AT_FINAL_OK : AT_NOT_FINAL;
}

const struct trans_model n11v2_trans = {
	.name = "n11v2 transparent",
	.bringup = &bringup,
	.open_cmd = open_cmd,
	.open_final = open_final,
	.close_cmd = "AT+TRANSCLOSE",
	/* The N11V2 manual has no AT+IFC: with rtscts it is tried (a module
	 * that knows it obeys), an ERROR is ignored; CRTSCTS is on the port. */
	.ifc_off = "AT",
	.close_final = close_final,
	.classify = classify,
	.markers = markers,
	.restarts = restarts,
	.resolve_cmd = n11v2_dns_cmd,
	.resolve_line = n11v2_dns_line,
};
