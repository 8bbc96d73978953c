/* Logging to stderr (journald picks it up) with levels. */
#ifndef ATB_LOG_H
#define ATB_LOG_H

extern int log_verbosity; /* -1: errors only, 0: info and errors, 1: debug */
extern int log_journal;   /* stderr is journald: prefix lines with <priority> */

void log_msg(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define log_err(...) log_msg(0, __VA_ARGS__)
#define log_info(...) log_msg(1, __VA_ARGS__)
#define log_debug(...) log_msg(2, __VA_ARGS__)

#endif
