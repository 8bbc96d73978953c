/* The serial port the module hangs off (or a pty from atbridge-sim). */
#ifndef ATB_MODEM_SERIAL_H
#define ATB_MODEM_SERIAL_H

#include <stdbool.h>

/* Opens dev non-blocking, raw 8N1 at baud, with RTS/CTS if asked. Returns the
 * fd, or -1 after one line on stderr naming the device or the bad baud. */
int modem_serial_open(const char *dev, unsigned baud, bool rtscts);

#endif
