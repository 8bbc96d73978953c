/* The ICMP echo and IPv6 group of test_lwip (test_lwip_icmp_ip6.c). */
#ifndef ATB_TEST_LWIP_ICMP_IP6_H
#define ATB_TEST_LWIP_ICMP_IP6_H

/* Runs the group; returns the number of failed tests. */
int test_lwip_icmp_ip6_run(void);

#endif
