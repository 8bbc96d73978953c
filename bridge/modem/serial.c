#include "serial.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "log.h"

static const struct {
	unsigned baud;
	speed_t speed;
} baud_table[] = {
	{ 9600, B9600 },       { 19200, B19200 },     { 38400, B38400 },
	{ 57600, B57600 },     { 115200, B115200 },   { 230400, B230400 },
	{ 460800, B460800 },   { 500000, B500000 },   { 576000, B576000 },
	{ 921600, B921600 },   { 1000000, B1000000 }, { 1152000, B1152000 },
	{ 1500000, B1500000 }, { 2000000, B2000000 }, { 2500000, B2500000 },
	{ 3000000, B3000000 }, { 3500000, B3500000 }, { 4000000, B4000000 },
};

static bool baud_to_speed(unsigned baud, speed_t *out)
{
	for (size_t i = 0; i < sizeof(baud_table) / sizeof(baud_table[0]); i++) {
		if (baud_table[i].baud == baud) {
			*out = baud_table[i].speed;
			return true;
		}
	}
	return false;
}

int modem_serial_open(const char *dev, unsigned baud, bool rtscts)
{
	speed_t speed;
	if (!baud_to_speed(baud, &speed)) {
		log_err("unsupported baud rate %u for %s "
		        "(use a standard rate such as 115200 or 921600)", baud, dev);
		return -1;
	}
	int fd = open(dev, O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0) {
		log_err("cannot open serial device %s: %s", dev, strerror(errno));
		return -1;
	}
	struct termios t;
	if (tcgetattr(fd, &t) < 0) {
		log_err("%s is not a serial port: %s", dev, strerror(errno));
		close(fd);
		return -1;
	}
	cfmakeraw(&t);
	t.c_cflag |= CLOCAL | CREAD;
	if (rtscts)
		t.c_cflag |= CRTSCTS;
	else
		t.c_cflag &= ~(tcflag_t)CRTSCTS;
	t.c_cc[VMIN] = 1;
	t.c_cc[VTIME] = 0;
	if (cfsetispeed(&t, speed) < 0 || cfsetospeed(&t, speed) < 0 ||
	    tcsetattr(fd, TCSANOW, &t) < 0) {
		log_err("cannot configure %s at %u baud: %s", dev, baud,
		        strerror(errno));
		close(fd);
		return -1;
	}
	tcflush(fd, TCIOFLUSH);
	return fd;
}
