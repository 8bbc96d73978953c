/* modem_get_info(): the module's identity (read once per bring-up) and its
 * signal, registration and operator (read at bring-up), parsed strictly: an
 * answer that is not in the expected form leaves the field unknown. */
#include <stdio.h>
#include <string.h>

#include "log.h"
#include "modem_priv.h"

void modem_info_reset(struct modem *m)
{
	memset(&m->info, 0, sizeof(m->info));
	m->info.csq_rssi = m->info.csq_ber = -1;
}

/* Copies s (without surrounding spaces) into out when it is 1..cap-1
 * printable ASCII bytes without quotes; else leaves out empty. */
static void keep_text(char *out, size_t cap, const char *s)
{
	size_t n;
	out[0] = '\0';
	while (*s == ' ')
		s++;
	n = strlen(s);
	while (n && s[n - 1] == ' ')
		n--;
	if (!n || n >= cap)
		return;
	for (size_t i = 0; i < n; i++)
		if (s[i] < 0x20 || s[i] > 0x7e || s[i] == '"' || s[i] == '\'' || s[i] == '\\')
			return;
	memcpy(out, s, n);
	out[n] = '\0';
}

/* The text after "<tag>:" (spaces skipped), or NULL. */
static const char *after(const char *line, const char *tag)
{
	size_t n = strlen(tag);
	if (strncmp(line, tag, n) || line[n] != ':')
		return NULL;
	line += n + 1;
	while (*line == ' ')
		line++;
	return line;
}

bool modem_info_any_line(const char *line)
{
	return line[0] && strcmp(line, "OK") != 0;
}

bool modem_info_csq_line(const char *line) { return after(line, "+CSQ") != NULL; }
bool modem_info_creg_line(const char *line) { return after(line, "+CREG") != NULL; }
bool modem_info_cops_line(const char *line) { return after(line, "+COPS") != NULL; }
bool modem_info_cgmm_line(const char *line) { return after(line, "+CGMM") != NULL; }
bool modem_info_cgmr_line(const char *line) { return after(line, "+CGMR") != NULL; }
bool modem_info_cgsn_line(const char *line) { return after(line, "+CGSN") != NULL; }

void modem_info_capture_model(void *ctx, const char *line)
{
	struct modem *m = ctx;
	const char *v = after(line, "+CGMM");
	keep_text(m->info.model, sizeof(m->info.model), v ? v : line);
}

void modem_info_capture_firmware(void *ctx, const char *line)
{
	struct modem *m = ctx;
	const char *v = after(line, "+CGMR");
	if (!v)
		v = after(line, "Revision");
	keep_text(m->info.firmware, sizeof(m->info.firmware), v ? v : line);
}

void modem_info_capture_imei(void *ctx, const char *line)
{
	struct modem *m = ctx;
	const char *v = after(line, "+CGSN");
	size_t n;
	if (!v)
		v = line;
	n = strspn(v, "0123456789");
	m->info.imei[0] = '\0';
	if (n >= 14 && n <= 17 && !v[n]) /* IMEI 15, IMEISV 16 digits */
		snprintf(m->info.imei, sizeof(m->info.imei), "%s", v);
}

void modem_info_capture_csq(void *ctx, const char *line)
{
	struct modem *m = ctx;
	const char *v = after(line, "+CSQ");
	int rssi, ber;
	char extra;
	m->info.csq_rssi = m->info.csq_ber = -1;
	if (!v || sscanf(v, "%d,%d%c", &rssi, &ber, &extra) != 2)
		return;
	if (rssi >= 0 && rssi <= 31)
		m->info.csq_rssi = rssi;
	if (ber >= 0 && ber <= 7)
		m->info.csq_ber = ber;
}

void modem_info_capture_creg(void *ctx, const char *line)
{
	struct modem *m = ctx;
	const char *v = after(line, "+CREG");
	int n, stat;
	char sep;
	m->info.registration = NULL;
	/* +CREG: <n>,<stat>[,<lac>,<ci>[,<AcT>]] */
	if (!v)
		return;
	int k = sscanf(v, "%d,%d%c", &n, &stat, &sep);
	if (k < 2 || (k == 3 && sep != ','))
		return;
	switch (stat) {
	case 1: m->info.registration = "home"; break;
	case 2: m->info.registration = "searching"; break;
	case 3: m->info.registration = "denied"; break;
	case 5: m->info.registration = "roaming"; break;
	default: break; /* 0: not registered, not searching; 4: unknown */
	}
}

void modem_info_capture_cops(void *ctx, const char *line)
{
	struct modem *m = ctx;
	const char *v = after(line, "+COPS");
	const char *q, *e;
	char name[sizeof(m->info.operator_name)];
	m->info.operator_name[0] = '\0';
	/* +COPS: <mode>[,<format>,"<oper>"[,<AcT>]] */
	if (!v || !(q = strchr(v, '"')) || !(e = strchr(q + 1, '"')) || (e[1] && e[1] != ','))
		return;
	if ((size_t)(e - q - 1) >= sizeof(name))
		return;
	memcpy(name, q + 1, (size_t)(e - q - 1));
	name[e - q - 1] = '\0';
	keep_text(m->info.operator_name, sizeof(m->info.operator_name), name);
}

const struct modem_info *modem_get_info(const struct modem *cm)
{
	/* The struct is the modem's own; the derived fields are filled here. */
	struct modem *m = (struct modem *)cm;
	const struct modem_dialect *d = m->dialect;
	m->info.dialect = d && m->module ? m->module->name : NULL;
	m->info.link_mode = d ? (m->cfg.transparent ? "transparent" : "multi-link") : NULL;
	snprintf(m->info.local_ip, sizeof(m->info.local_ip), "%s", m->up ? m->local_ip : "");
	return &m->info;
}

/* ---- the periodic refresh of signal, registration and operator ----------
 * Every MODEM_INFO_INTERVAL s, one command at a time and only while the line
 * is idle (nothing in flight or queued, no script running), never on a
 * transparent link (its line may be in data mode). A busy line is tried
 * again a second later. An answer without the expected line, an error or a
 * timeout makes the field unknown. */
#define MODEM_INFO_INTERVAL 30.0

static const struct {
	const char *cmd;
	bool (*match)(const char *line);
	void (*capture)(void *ctx, const char *line);
} refresh[] = {
	{ "AT+CSQ", modem_info_csq_line, modem_info_capture_csq },
	{ "AT+CREG?", modem_info_creg_line, modem_info_capture_creg },
	{ "AT+COPS?", modem_info_cops_line, modem_info_capture_cops },
};
#define N_REFRESH (sizeof(refresh) / sizeof(refresh[0]))

static bool line_idle(const struct modem *m)
{
	return m->up && m->chan && !m->cfg.transparent && !at_chan_in_data_mode(m->chan) &&
	       !at_chan_busy(m->chan) && !at_chan_queued(m->chan) &&
	       !(m->script && at_script_running(m->script));
}

static void refresh_next(struct modem *m);

static void on_refresh_line(void *ctx, const struct at_cmd *cmd, const char *line)
{
	struct modem *m = ctx;
	if (cmd->tag < N_REFRESH && !m->info_seen && refresh[cmd->tag].match(line)) {
		m->info_seen = true;
		refresh[cmd->tag].capture(m, line);
	}
}

static void on_refresh_done(void *ctx, const struct at_cmd *cmd, enum at_result res,
                            const char *final_line)
{
	(void)final_line;
	struct modem *m = ctx;
	m->info_inflight = false;
	if (cmd->tag >= N_REFRESH)
		return;
	if (res != AT_RES_OK || !m->info_seen)
		refresh[cmd->tag].capture(m, ""); /* unknown */
	if (res == AT_RES_CANCELLED)
		return;
	m->info_step = cmd->tag + 1;
	if (m->info_step < N_REFRESH)
		refresh_next(m);
}

/* Submits the next command of the round if the line is idle; else tries
 * again in a second. */
static void refresh_next(struct modem *m)
{
	if (!line_idle(m)) {
		ev_timer_stop(m->loop, &m->info_timer);
		ev_timer_set(&m->info_timer, 1.0, m->info_interval);
		ev_timer_start(m->loop, &m->info_timer);
		return;
	}
	struct at_cmd cmd = { 0 };
	snprintf(cmd.text, sizeof(cmd.text), "%s", refresh[m->info_step].cmd);
	cmd.timeout_ms = 2000;
	cmd.line = on_refresh_line;
	cmd.done = on_refresh_done;
	cmd.ctx = m;
	cmd.tag = (uint32_t)m->info_step;
	m->info_seen = false;
	if (at_chan_submit(m->chan, &cmd)) {
		m->info_inflight = true;
		m->info_chan = m->chan;
	}
}

static void on_info_timer(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)loop;
	(void)revents;
	struct modem *m = w->data;
	if (m->info_inflight && m->info_chan == m->chan)
		return; /* still waiting for the answer */
	m->info_inflight = false;
	if (m->info_step >= N_REFRESH)
		m->info_step = 0; /* a new round */
	if (!m->up || m->cfg.transparent)
		return;
	refresh_next(m);
}

void modem_info_init(struct modem *m)
{
	modem_info_reset(m);
	m->info_interval = MODEM_INFO_INTERVAL;
	m->info_step = N_REFRESH;
	ev_timer_init(&m->info_timer, on_info_timer, m->info_interval, m->info_interval);
	m->info_timer.data = m;
	ev_timer_start(m->loop, &m->info_timer);
}

void modem_info_stop(struct modem *m)
{
	ev_timer_stop(m->loop, &m->info_timer);
}

void modem_info_set_interval(struct modem *m, double s)
{
	m->info_interval = s;
	ev_timer_stop(m->loop, &m->info_timer);
	ev_timer_set(&m->info_timer, s, s);
	ev_timer_start(m->loop, &m->info_timer);
}

void modem_info_log(struct modem *m)
{
	log_info("module %s: model %s, firmware %s", m->module ? m->module->name : "?",
	         m->info.model[0] ? m->info.model : "unknown",
	         m->info.firmware[0] ? m->info.firmware : "unknown");
}
