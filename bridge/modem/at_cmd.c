#include "at_cmd.h"

#include <arpa/inet.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "log.h"

#define AT_QUOTED_MAX 64

bool at_cmd_quoted_ok(const char *s)
{
	size_t n = strlen(s);
	if (n > AT_QUOTED_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c < 0x20 || c > 0x7e || c == '"' || c == '\\')
			return false;
	}
	return true;
}

bool at_cmd_hostname_ok(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > 253)
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		          (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_';
		if (!ok)
			return false;
	}
	return true;
}

struct out {
	char *buf;
	size_t cap, len;
	bool overflow;
};

static void put(struct out *o, const char *s, size_t n)
{
	if (o->len + n >= o->cap) {
		o->overflow = true;
		return;
	}
	memcpy(o->buf + o->len, s, n);
	o->len += n;
	o->buf[o->len] = '\0';
}

static void put_quoted(struct out *o, const char *s)
{
	put(o, "\"", 1);
	put(o, s, strlen(s));
	put(o, "\"", 1);
}

static bool put_conversion(struct out *o, char conv, va_list *ap)
{
	char tmp[32];
	switch (conv) {
	case 'u': {
		int n = snprintf(tmp, sizeof(tmp), "%u", va_arg(*ap, unsigned));
		put(o, tmp, (size_t)n);
		return true;
	}
	case 'a': {
		uint32_t ip = va_arg(*ap, uint32_t);
		struct in_addr a = { .s_addr = ip };
		if (!inet_ntop(AF_INET, &a, tmp, sizeof(tmp)))
			return false;
		put(o, tmp, strlen(tmp));
		return true;
	}
	case 'q': {
		const char *s = va_arg(*ap, const char *);
		if (!s)
			s = "";
		if (!at_cmd_quoted_ok(s)) {
			log_warn("refusing value for an AT command: '%s' "
			         "(quote, backslash, CR, LF, non-printable byte or over %d bytes)",
			         s, AT_QUOTED_MAX);
			return false;
		}
		put_quoted(o, s);
		return true;
	}
	case 'Q': {
		const char *s = va_arg(*ap, const char *);
		if (!s || !at_cmd_quoted_ok(s)) {
			log_warn("refusing a secret value for an AT command (quote, "
			         "backslash, CR, LF, non-printable byte or over %d bytes)",
			         AT_QUOTED_MAX);
			return false;
		}
		put_quoted(o, s);
		return true;
	}
	case 'h': {
		const char *s = va_arg(*ap, const char *);
		if (!s || !at_cmd_hostname_ok(s)) {
			log_warn("refusing host name for an AT command: '%s'",
			         s ? s : "(null)");
			return false;
		}
		put_quoted(o, s);
		return true;
	}
	case '%':
		put(o, "%", 1);
		return true;
	default:
		log_err("internal error: bad AT format conversion '%%%c'", conv);
		return false;
	}
}

bool at_cmd_format(char *out, size_t cap, const char *fmt, ...)
{
	struct out o = { .buf = out, .cap = cap, .len = 0, .overflow = false };
	bool ok = true;
	va_list ap;
	if (cap == 0)
		return false;
	out[0] = '\0';
	va_start(ap, fmt);
	for (const char *f = fmt; *f && ok; f++) {
		if (*f != '%') {
			put(&o, f, 1);
			continue;
		}
		f++;
		if (!*f) {
			ok = false;
			break;
		}
		ok = put_conversion(&o, *f, &ap);
	}
	va_end(ap);
	if (o.overflow) {
		log_err("AT command too long for buffer (%zu bytes)", cap);
		ok = false;
	}
	if (!ok)
		out[0] = '\0';
	return ok;
}
