#include "log.h"

#include <stdarg.h>
#include <stdio.h>

int log_verbosity;

void log_msg(int level, const char *fmt, ...)
{
	static const char *const prefix[] = {"atbridge: error: ", "atbridge: ", "atbridge: debug: "};
	va_list ap;

	if (level > 1 + log_verbosity)
		return;
	fputs(prefix[level], stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}
