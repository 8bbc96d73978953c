#include "at_parser.h"

#include <string.h>

void at_parser_init(struct at_parser *p, const struct at_parser_ops *ops, void *ctx)
{
	memset(p, 0, sizeof(*p));
	p->ops = ops;
	p->ctx = ctx;
}

/* Forgets a partial line or payload (after a reset of the module). */
void at_parser_reset(struct at_parser *p)
{
	p->in_payload = false;
	p->discarding = false;
	p->prompt_armed = false;
	p->skip_space = false;
	p->len = 0;
	p->payload_len = p->payload_want = 0;
}

/* Control bytes other than TAB inside a line mean noise on the line
 * (wrong baud, a module reboot banner): the line is dropped whole. */
static bool line_byte_ok(uint8_t c)
{
	return c == '\t' || (c >= 0x20 && c < 0x7f);
}

static void start_payload(struct at_parser *p, size_t want)
{
	p->in_payload = true;
	p->payload_want = want;
	p->payload_len = 0;
	if (want > AT_PAYLOAD_MAX) {
		/* Cannot hold it: skip the bytes so line sync is kept. */
		p->garbage_lines++;
		p->discarding = true;
	}
}

static void end_line(struct at_parser *p)
{
	if (p->discarding) {
		p->discarding = false;
		p->len = 0;
		p->garbage_lines++;
		return;
	}
	if (p->len == 0)
		return;
	p->line[p->len] = '\0';
	size_t n = p->len;
	p->len = 0;
	size_t want = p->ops->on_line(p->ctx, p->line, n);
	if (want > 0)
		start_payload(p, want);
}

/* After a ',' in a line: does raw data start here? */
static void check_inline(struct at_parser *p)
{
	if (!p->ops->inline_payload || p->line[0] != '+')
		return;
	p->line[p->len] = '\0';
	size_t want = p->ops->inline_payload(p->ctx, p->line, p->len);
	if (want == 0)
		return;
	size_t n = p->len;
	p->len = 0;
	p->ops->on_line(p->ctx, p->line, n);
	start_payload(p, want);
}

static size_t feed_payload(struct at_parser *p, const uint8_t *buf, size_t len)
{
	size_t need = p->payload_want - p->payload_len;
	size_t n = len < need ? len : need;
	if (!p->discarding)
		memcpy(p->payload + p->payload_len, buf, n);
	p->payload_len += n;
	if (p->payload_len == p->payload_want) {
		bool skipped = p->discarding;
		p->in_payload = false;
		p->discarding = false;
		if (!skipped)
			p->ops->on_payload(p->ctx, p->payload, p->payload_len);
		p->payload_len = p->payload_want = 0;
	}
	return n;
}

static void feed_line_byte(struct at_parser *p, uint8_t c)
{
	if (c == '\n') {
		end_line(p);
		return;
	}
	if (p->discarding || c == '\r')
		return; /* CR carries nothing inside a line; LF ends it */
	if (p->skip_space) {
		p->skip_space = false;
		if (c == ' ')
			return;
	}
	if (p->prompt_armed && p->len == 0 && c == '>') {
		p->prompt_armed = false;
		p->skip_space = true;
		p->ops->on_prompt(p->ctx);
		return;
	}
	if (!line_byte_ok(c) || p->len >= AT_LINE_MAX) {
		p->discarding = true;
		return;
	}
	p->line[p->len++] = (char)c;
	if (c == ',') {
		check_inline(p);
		return;
	}
	/* The send prompt is "> " with no line end after it. */
	if (p->len == 2 && p->line[0] == '>' && p->line[1] == ' ') {
		p->len = 0;
		p->ops->on_prompt(p->ctx);
	}
}

void at_parser_feed(struct at_parser *p, const uint8_t *buf, size_t len)
{
	size_t i = 0;
	while (i < len) {
		if (p->in_payload) {
			i += feed_payload(p, buf + i, len - i);
			continue;
		}
		feed_line_byte(p, buf[i++]);
	}
}
