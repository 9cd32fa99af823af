/* LD_PRELOAD library for the lab (make-encap-captures.sh, kind ipv6_dstopts):
 * before an AF_INET6 TCP socket connects, it asks the kernel to send an IPv6
 * extension header on every packet of that socket, so a real smbclient's
 * packets carry one. SDLAB_IPV6_EXT picks the header: "dstopts" (the default,
 * a Destination Options header), "hopopts" (Hop-by-Hop Options) or "both".
 *
 * The header holds one PadN option (RFC 8200, 4.2): 8 octets in all,
 *   next header (filled by the kernel), hdr ext len 0 (8-octet units beyond
 *   the first 8), option type 1 (PadN), option data length 4, 4 zero octets.
 * The kernel keeps it in the socket's IPv6 options and adds it on transmit
 * (CAP_NET_RAW needed: root in the client namespace).
 *
 *   cc -shared -fPIC -o ipv6_exthdr_preload.so ipv6_exthdr_preload.c -ldl
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

static const unsigned char padn_header[8] = {0, 0, 1, 4, 0, 0, 0, 0};

static void set_header(int fd, int optname, const char *name)
{
    if (setsockopt(fd, IPPROTO_IPV6, optname, padn_header, sizeof padn_header) != 0)
        fprintf(stderr, "ipv6_exthdr_preload: setsockopt(%s): %s\n", name, strerror(errno));
}

int connect(int fd, const struct sockaddr *addr, socklen_t len)
{
    static int (*real_connect)(int, const struct sockaddr *, socklen_t);
    if (!real_connect)
        real_connect = (int (*)(int, const struct sockaddr *, socklen_t))dlsym(RTLD_NEXT, "connect");
    int type = 0;
    socklen_t tlen = sizeof type;
    if (addr && addr->sa_family == AF_INET6 && getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &tlen) == 0 && type == SOCK_STREAM) {
        const char *which = getenv("SDLAB_IPV6_EXT");
        if (!which || !*which)
            which = "dstopts";
        if (!strcmp(which, "hopopts") || !strcmp(which, "both"))
            set_header(fd, IPV6_HOPOPTS, "IPV6_HOPOPTS");
        if (!strcmp(which, "dstopts") || !strcmp(which, "both"))
            set_header(fd, IPV6_DSTOPTS, "IPV6_DSTOPTS");
    }
    return real_connect(fd, addr, len);
}
