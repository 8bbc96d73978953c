#include "log.h"

#include <stdarg.h>
#include <stdio.h>

int log_verbosity;
int log_journal;

void log_msg(int level, const char *fmt, ...)
{
	static const char *const prefix[] = { "atbridge: error: ", "atbridge: warning: ", "atbridge: ",
		                              "atbridge: debug: " };
	static const char *const priority[] = { "<3>", "<4>", "<6>", "<7>" };
	va_list ap;

	if (level < LOG_LVL_ERR || level > LOG_LVL_DEBUG || level > LOG_LVL_INFO + log_verbosity)
		return;
	if (log_journal)
		fputs(priority[level], stderr);
	fputs(prefix[level], stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}
