#include "log.h"

#include <stdarg.h>
#include <stdio.h>

int log_verbosity;
int log_journal;

void log_msg(int level, const char *fmt, ...)
{
	static const char *const prefix[] = {"atbridge: error: ", "atbridge: ", "atbridge: debug: "};
	static const char *const priority[] = {"<3>", "<6>", "<7>"}; /* err, info, debug */
	va_list ap;

	if (level > 1 + log_verbosity)
		return;
	if (log_journal)
		fputs(priority[level], stderr);
	fputs(prefix[level], stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}
