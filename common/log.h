/* One logging path for every layer: stderr (journald picks it up), one
 * prefix, levels with journald priorities. */
#ifndef ATB_LOG_H
#define ATB_LOG_H

enum log_level { LOG_LVL_ERR, LOG_LVL_WARN, LOG_LVL_INFO, LOG_LVL_DEBUG };

extern int log_verbosity; /* -1: errors and warnings, 0: and info, 1: and debug */
extern int log_journal;   /* stderr is journald: prefix lines with <priority> */

void log_msg(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define log_err(...) log_msg(LOG_LVL_ERR, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_LVL_WARN, __VA_ARGS__)
#define log_info(...) log_msg(LOG_LVL_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_LVL_DEBUG, __VA_ARGS__)

#endif
