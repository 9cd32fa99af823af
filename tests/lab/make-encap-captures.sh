#!/usr/bin/env bash
# The share_not_found scenario (real smbd and smbclient, make-captures.sh)
# captured in the encapsulations real captures come in, each written as
# OUT_DIR/share_not_found_<kind>.pcap with the plain scenario's .expect: the
# same finding on the frame Wireshark's own dissectors locate.
#
#   sudo tests/lab/make-encap-captures.sh [KIND...]     (SDLAB_OUT=dir to write elsewhere)
#
# Kinds made with the kernel's own devices and tcpdump:
#   sll2        tcpdump -i any (Linux cooked v2)
#   sll         tcpdump -i any -y LINUX_SLL (Linux cooked v1)
#   vxlan       a VXLAN device (UDP 4789) over a veth underlay, captured on the underlay
#   vxlan_frag  the same with a 128-byte underlay MTU: the outer IPv4 packets are fragmented
#   vxlan6      VXLAN over an IPv6 underlay (fd98::1, fd98::2)
#   ipv6_dstopts  IPv6 (fd99::1, fd99::2), every client packet with a Destination
#               Options header (PadN) its socket asks for: ipv6_exthdr_preload.c,
#               preloaded into smbclient; the server is named LABSRV
# Kinds this kernel has no device for (no 8021q, ip_gre or erspan modules):
# the traffic goes through a TAP device in each namespace, and encap_bridge.py
# wraps and unwraps it on the veth underlay the way the device would:
#   vlan  qinq  gretap  erspan2 (ERSPAN type II)  erspan3 (ERSPAN type III)
# The SMB endpoints are 10.99.0.1 and 10.99.0.2 in every kind, as in the plain
# capture; the underlay is 10.98.0.1/10.98.0.2, inside the same namespaces.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
SDLAB_LIBRARY=1 source "$HERE/make-captures.sh"

UCIP=10.98.0.1 USIP=10.98.0.2
CAP_IF="" CAP_FILTER="" CAP_OPTS=()
BRIDGE_PIDS=()

stop_bridges() {
    for p in "${BRIDGE_PIDS[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
    BRIDGE_PIDS=()
}
trap 'stop_bridges; cleanup' EXIT

# Overrides make-captures.sh's: the interface, link type and filter of the kind.
start_capture() {
    local name=$1
    rm -f "$OUT/$name.pcap"
    ip netns exec "$CLI" tcpdump -i "$CAP_IF" "${CAP_OPTS[@]}" -B 16384 --immediate-mode -s 0 -U -w "$OUT/$name.pcap" $CAP_FILTER >"$WORK/tcpdump.log" 2>&1 &
    # Registered as capture_at does, so that end() stops it and checks its drop count.
    TCPDUMP_PIDS+=("$!")
    TCPDUMP_LOGS+=("$WORK/tcpdump.log")
    for _ in $(seq 50); do grep -q "listening on" "$WORK/tcpdump.log" && break; sleep 0.1; done
    sleep 0.3
}

# A VXLAN pair over the underlay veth (nd-u-c/nd-u-s, addresses given), the
# lab's addresses on it; MTU optional (default: the kernel's).
vxlan_pair() { # CLIENT_UNDERLAY SERVER_UNDERLAY [MTU]
    in_cli ip link set nd-u-c up
    in_srv ip link set nd-u-s up
    in_cli ip link add nd-x-c type vxlan id 42 local "$1" remote "$2" dstport 4789
    in_srv ip link add nd-x-s type vxlan id 42 local "$2" remote "$1" dstport 4789
    if [ -n "${3:-}" ]; then
        in_cli ip link set nd-x-c mtu "$3"
        in_srv ip link set nd-x-s mtu "$3"
    fi
    in_cli ip addr add "$CIP/24" dev nd-x-c
    in_srv ip addr add "$SIP/24" dev nd-x-s
    in_cli ip link set nd-x-c up
    in_srv ip link set nd-x-s up
    in_cli ethtool -K nd-x-c tso off gso off gro off >/dev/null 2>&1 || true
    in_srv ethtool -K nd-x-s tso off gso off gro off >/dev/null 2>&1 || true
}

encap_net_up() { # KIND
    ip netns del "$CLI" 2>/dev/null || true
    ip netns del "$SRV" 2>/dev/null || true
    ip netns add "$CLI"
    ip netns add "$SRV"
    ip link add nd-u-c netns "$CLI" type veth peer name nd-u-s netns "$SRV"
    for ns in "$CLI" "$SRV"; do ip netns exec "$ns" ip link set lo up; done
    in_cli ethtool -K nd-u-c tso off gso off gro off >/dev/null 2>&1 || true
    in_srv ethtool -K nd-u-s tso off gso off gro off >/dev/null 2>&1 || true
    CAP_OPTS=()
    case $1 in
        sll | sll2)
            in_cli ip addr add "$CIP/24" dev nd-u-c
            in_srv ip addr add "$SIP/24" dev nd-u-s
            in_cli ip link set nd-u-c up
            in_srv ip link set nd-u-s up
            CAP_IF=any CAP_FILTER="tcp port 445"
            [ "$1" = sll2 ] || CAP_OPTS=(-y LINUX_SLL)
            ;;
        vxlan | vxlan_frag)
            in_cli ip addr add "$UCIP/24" dev nd-u-c
            in_srv ip addr add "$USIP/24" dev nd-u-s
            if [ "$1" = vxlan_frag ]; then
                in_cli ip link set nd-u-c mtu 128
                in_srv ip link set nd-u-s mtu 128
            fi
            # Larger than the underlay's MTU: the kernel fragments the outer packets (VXLAN leaves DF unset).
            vxlan_pair "$UCIP" "$USIP" 1400
            CAP_IF=nd-u-c
            if [ "$1" = vxlan ]; then CAP_FILTER="udp port 4789"; else CAP_FILTER="ip"; fi
            ;;
        vxlan6)
            in_cli ip -6 addr add fd98::1/64 dev nd-u-c nodad
            in_srv ip -6 addr add fd98::2/64 dev nd-u-s nodad
            vxlan_pair fd98::1 fd98::2
            CAP_IF=nd-u-c CAP_FILTER="ip6"
            ;;
        ipv6_dstopts)
            # IPv4 too: start_smbd waits for smbd on 10.99.0.2; the client reaches it over IPv6 only.
            in_cli ip addr add "$CIP/24" dev nd-u-c
            in_srv ip addr add "$SIP/24" dev nd-u-s
            in_cli ip -6 addr add "$CIP6/64" dev nd-u-c nodad
            in_srv ip -6 addr add "$SIP6_LINK/64" dev nd-u-s nodad
            in_cli ip link set nd-u-c up
            in_srv ip link set nd-u-s up
            # protochain: TCP behind any extension headers (plain "tcp" stops at the first next header).
            CAP_IF=nd-u-c CAP_FILTER="ip6 protochain 6"
            ;;
        vlan | qinq | gretap | erspan2 | erspan3)
            for ns in "$CLI" "$SRV"; do ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1; done
            in_cli ip link set nd-u-c up
            in_srv ip link set nd-u-s up
            local cmac smac
            cmac=$(in_cli cat /sys/class/net/nd-u-c/address)
            smac=$(in_srv cat /sys/class/net/nd-u-s/address)
            ip netns exec "$CLI" /usr/bin/python3 "$HERE/encap_bridge.py" "$1" nd-t-c nd-u-c "$UCIP" "$USIP" "$smac" &
            BRIDGE_PIDS+=($!)
            ip netns exec "$SRV" /usr/bin/python3 "$HERE/encap_bridge.py" "$1" nd-t-s nd-u-s "$USIP" "$UCIP" "$cmac" &
            BRIDGE_PIDS+=($!)
            for _ in $(seq 50); do
                in_cli ip link show nd-t-c >/dev/null 2>&1 && in_srv ip link show nd-t-s >/dev/null 2>&1 && break
                sleep 0.1
            done
            in_cli ip link set nd-t-c mtu 1400 up
            in_srv ip link set nd-t-s mtu 1400 up
            in_cli ethtool -K nd-t-c tso off gso off gro off >/dev/null 2>&1 || true
            in_srv ethtool -K nd-t-s tso off gso off gro off >/dev/null 2>&1 || true
            in_cli ip addr add "$CIP/24" dev nd-t-c
            in_srv ip addr add "$SIP/24" dev nd-t-s
            CAP_IF=nd-u-c CAP_FILTER=""
            ;;
        *) echo "unknown kind $1" >&2; exit 1 ;;
    esac
}

CIP6=fd99::1 SIP6_LINK=fd99::2
# share_not_found (make-captures.sh) over IPv6 with extension headers on the
# client's packets (SDLAB_IPV6_EXT of ipv6_exthdr_preload.c: dstopts, hopopts or both).
share_not_found_ipv6_ext() { # KIND EXT
    local so="$WORK/ipv6_exthdr_preload.so"
    cc -shared -fPIC -O2 -Wall -o "$so" "$HERE/ipv6_exthdr_preload.c" -ldl
    write_conf "    interfaces = $SIP/24 $SIP6_LINK/64"; start_smbd
    begin "share_not_found_$1"
    LD_PRELOAD=$so SDLAB_IPV6_EXT=$2 client //LABSRV/projects -I "$SIP6_LINK" -U "sdalice%$PW" -c "ls"
    expect tree.share_not_found 'smb2.cmd == 3 && smb2.nt_status == 0xc00000cc' first \
        'STATUS_BAD_NETWORK_NAME;\\LABSRV\projects;Get-SmbShare'
    end; stop_smbd
}

ALL_KINDS=(sll2 sll vxlan vxlan_frag vxlan6 vlan qinq gretap erspan2 erspan3 ipv6_dstopts)
users_up
data_up
: >"$WORK/client.log"
if [ $# -gt 0 ]; then KINDS=("$@"); else KINDS=("${ALL_KINDS[@]}"); fi
for k in "${KINDS[@]}"; do
    encap_net_up "$k"
    case $k in
        ipv6_dstopts) share_not_found_ipv6_ext "$k" dstopts ;;
        *) SDLAB_SUFFIX="_$k" scenario_share_not_found ;;
    esac
    stop_bridges
done
[ -z "${SDLAB_DEBUG:-}" ] || cat "$WORK/client.log" >&2
echo "captures in $OUT" >&2
