#!/usr/bin/env bash
# Regenerate the lab captures: real Samba smbd and smbclient in two network
# namespaces joined by one veth pair (10.99.0.1 client, 10.99.0.2 server; no
# other address is ever a target), captured with tcpdump on the client side.
#
#   sudo tests/lab/make-captures.sh [SCENARIO...]     (SDLAB_OUT=dir to write elsewhere)
#
# Each scenario writes OUT_DIR/<name>.pcap and OUT_DIR/<name>.expect: the
# findings smbdiag must raise, one per line, as
#   rule <TAB> Wireshark display filter <TAB> pick <TAB> evidence;evidence
# where pick says which of the filter's frames carries the finding: first,
# last, nth:N, or any (one of them). The frame is located by Wireshark's own
# dissector, not by smbdiag. Warnings and errors not listed must not appear.
set -euo pipefail
# One CPU: a veth pair on two CPUs reorders frames, which a clean scenario must not show.
if [ -z "${SDLAB_PINNED:-}" ]; then SDLAB_PINNED=1 exec taskset -c 0 "$0" "$@"; fi

HERE=$(cd "$(dirname "$0")" && pwd)
OUT=${SDLAB_OUT:-$HERE/../captures/lab}
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)

# SDLAB_NS names the namespace pair, so two lab runs can work side by side.
CLI=${SDLAB_NS:-sdlab}-cli SRV=${SDLAB_NS:-sdlab}-srv RTR=${SDLAB_NS:-sdlab}-rtr
# SDLAB_IF names the veth pair (inside the namespaces), so two lab runs never share a name.
IFC=${SDLAB_IF:-sdl}-c IFS_=${SDLAB_IF:-sdl}-s
# The routed lab's four ends: client, router (client side, server side), server.
RC=${SDLAB_IF:-sdl}-c RRC=${SDLAB_IF:-sdl}-rc RRS=${SDLAB_IF:-sdl}-rs RS=${SDLAB_IF:-sdl}-s
CIP=10.99.0.1 SIP=10.99.0.2
PW='Lab-Passw0rd'
WORK=$(mktemp -d /tmp/sdlab.XXXXXX)
chmod 755 "$WORK"
SMBD_PID=""
TCPDUMP_PIDS=() TCPDUMP_LOGS=()

[ "$(id -u)" = 0 ] || { echo "run as root (network namespaces)" >&2; exit 1; }
for t in smbd smbclient tcpdump ethtool iptables ip; do
    command -v "$t" >/dev/null || { echo "missing $t: apt-get install -y $(cat "$HERE/packages.txt")" >&2; exit 1; }
done

in_cli() { ip netns exec "$CLI" "$@"; }
in_srv() { ip netns exec "$SRV" "$@"; }

cleanup() {
    stop_capture || true
    stop_smbd || true
    stop_dc 2>/dev/null || true
    net_down
    rm -rf "$WORK"
}
trap cleanup EXIT

net_down() {
    local ns
    for ns in "$CLI" "$SRV" "$RTR"; do ip netns del "$ns" 2>/dev/null || true; done
}

net_up() {
    net_down
    SIP=10.99.0.2
    ip netns add "$CLI"
    ip netns add "$SRV"
    ip link add "$IFC" netns "$CLI" type veth peer name "$IFS_" netns "$SRV"
    in_cli ip addr add "$CIP/24" dev "$IFC"
    in_srv ip addr add "$SIP/24" dev "$IFS_"
    for ns in "$CLI" "$SRV"; do
        ip netns exec "$ns" ip link set lo up
    done
    in_cli ip link set "$IFC" up
    in_srv ip link set "$IFS_" up
    # Wire-sized frames, not 64 KiB offload "frames".
    in_cli ethtool -K "$IFC" tso off gso off gro off >/dev/null 2>&1 || true
    in_srv ethtool -K "$IFS_" tso off gso off gro off >/dev/null 2>&1 || true
}

# The server's address on a bridge (sdl-br) whose port is sdl-s: each packet
# to or from the server crosses two interfaces of its host.
net_bridged() {
    net_up
    in_srv ip addr flush dev sdl-s
    in_srv ip link add sdl-br type bridge
    in_srv ip link set sdl-s master sdl-br
    in_srv ip addr add "$SIP/24" dev sdl-br
    in_srv ip link set sdl-br up
}

# A router namespace between client and server: 10.99.0.1 (sdl-c) —
# sdl-rc 10.99.0.254 | router | 10.99.1.254 sdl-rs — 10.99.1.2 (sdl-s)
# (sdl: SDLAB_IF, so two lab runs never share an interface name).
net_routed() {
    net_down
    SIP=10.99.1.2
    ip netns add "$CLI"; ip netns add "$SRV"; ip netns add "$RTR"
    ip link add "$RC" netns "$CLI" type veth peer name "$RRC" netns "$RTR"
    ip link add "$RS" netns "$SRV" type veth peer name "$RRS" netns "$RTR"
    in_cli ip addr add "$CIP/24" dev "$RC"
    ip netns exec "$RTR" ip addr add 10.99.0.254/24 dev "$RRC"
    ip netns exec "$RTR" ip addr add 10.99.1.254/24 dev "$RRS"
    in_srv ip addr add "$SIP/24" dev "$RS"
    local ns dev
    for ns in "$CLI" "$SRV" "$RTR"; do ip netns exec "$ns" ip link set lo up; done
    for dev in "$CLI $RC" "$RTR $RRC" "$RTR $RRS" "$SRV $RS"; do
        set -- $dev
        ip netns exec "$1" ip link set "$2" up
        ip netns exec "$1" ethtool -K "$2" tso off gso off gro off >/dev/null 2>&1 || true
    done
    in_cli ip route add default via 10.99.0.254
    in_srv ip route add default via 10.99.1.254
    ip netns exec "$RTR" sysctl -qw net.ipv4.ip_forward=1
}

users_up() {
    for u in sdalice sdbob; do
        id "$u" >/dev/null 2>&1 || useradd --no-create-home --shell /usr/sbin/nologin "$u"
    done
}

data_up() {
    mkdir -p "$WORK/share/data/small" "$WORK/share/restricted" "$WORK/share/public"
    echo "hello from the lab" > "$WORK/share/data/hello.txt"
    for i in $(seq -w 1 100); do
        head -c 2048 /dev/urandom > "$WORK/share/data/small/f$i.bin"
    done
    head -c $((2 * 1024 * 1024)) /dev/urandom > "$WORK/share/data/large.bin"
    echo "payroll" > "$WORK/share/data/payroll.xlsx"
    echo "in use" > "$WORK/share/data/inuse.docx"
    echo "restricted" > "$WORK/share/restricted/secret.txt"
    echo "public" > "$WORK/share/public/readme.txt"
    chmod -R a+rwX "$WORK/share"
    chmod 000 "$WORK/share/data/payroll.xlsx"
}

# smb.conf with per-scenario [global] and share options appended.
write_conf() {
    local global_extra=$1 data_extra=${2:-}
    local s="$WORK/samba"
    mkdir -p "$s"/{lock,state,cache,private,pid,ncalrpc,log}
    cat > "$s/smb.conf" <<EOF
[global]
    netbios name = LABSRV
    workgroup = LAB
    server role = standalone server
    interfaces = $SIP/24
    bind interfaces only = yes
    smb ports = 445
    disable netbios = yes
    lock directory = $s/lock
    state directory = $s/state
    cache directory = $s/cache
    private dir = $s/private
    pid directory = $s/pid
    ncalrpc dir = $s/ncalrpc
    log file = $s/log/%m.log
    passdb backend = tdbsam:$s/private/passdb.tdb
    load printers = no
    printing = bsd
    printcap name = /dev/null
    disable spoolss = yes
    server min protocol = SMB2_02
$global_extra

[data]
    path = $WORK/share/data
    read only = no
$data_extra

[restricted]
    path = $WORK/share/restricted
    valid users = sdbob

[public]
    path = $WORK/share/public
    guest ok = yes
EOF
    # A fresh user database per scenario: account states set by one must not leak into the next.
    rm -f "$s/private/passdb.tdb"
    printf '%s\n%s\n' "$PW" "$PW" | smbpasswd -c "$s/smb.conf" -s -a sdalice >/dev/null
    printf '%s\n%s\n' "$PW" "$PW" | smbpasswd -c "$s/smb.conf" -s -a sdbob >/dev/null
}

start_smbd() {
    in_srv smbd -D --configfile="$WORK/samba/smb.conf"
    for _ in $(seq 50); do
        if in_srv ss -ltn | grep -q "$SIP:445"; then
            SMBD_PID=$(cat "$WORK/samba/pid/smbd.pid" 2>/dev/null || true)
            return 0
        fi
        sleep 0.1
    done
    echo "smbd did not start" >&2
    cat "$WORK"/samba/log/* >&2 || true
    exit 1
}

stop_smbd() {
    [ -n "$SMBD_PID" ] || return 0
    # smbd forks one child per connection: stop the children, then the parent.
    pkill -TERM -P "$SMBD_PID" 2>/dev/null || true
    kill -TERM "$SMBD_PID" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$SMBD_PID" 2>/dev/null || break; sleep 0.1; done
    SMBD_PID=""
}

# tcpdump in namespace NS on IFACE (or "any") into FILE, beside any other
# capture running; extra tcpdump options after the file (-y LINUX_SLL2).
capture_at() { # NS IFACE FILE [OPTION...]
    local ns=$1 dev=$2 file=$3 log
    shift 3
    log="$WORK/tcpdump.${#TCPDUMP_PIDS[@]}.log"
    rm -f "$file"
    # Not through in_cli: $! must be tcpdump itself (ip netns exec execs it), not a subshell.
    ip netns exec "$ns" tcpdump -i "$dev" -B "${SDLAB_TCPDUMP_BUFFER_KIB:-16384}" --immediate-mode -s 0 -U -w "$file" "$@" tcp >"$log" 2>&1 &
    TCPDUMP_PIDS+=("$!")
    TCPDUMP_LOGS+=("$log")
    for _ in $(seq 50); do grep -q "listening on" "$log" && break; sleep 0.1; done
}

start_capture() {
    capture_at "$CLI" "$IFC" "$OUT/$1.pcap"
    sleep 0.3
}

stop_capture() {
    [ ${#TCPDUMP_PIDS[@]} -gt 0 ] || return 0
    sleep 0.5
    local pid log
    for pid in "${TCPDUMP_PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; done
    for log in "${TCPDUMP_LOGS[@]}"; do
        [ -z "${SDLAB_DEBUG:-}" ] || cat "$log" >&2
        if ! grep -q "^0 packets dropped by kernel" "$log"; then
            echo "tcpdump dropped packets:" >&2
            cat "$log" >&2
            exit 1
        fi
    done
    TCPDUMP_PIDS=() TCPDUMP_LOGS=()
}

# smbclient as the client; failures are the point of most scenarios.
client() {
    in_cli timeout 60 smbclient --configfile=/dev/null -p 445 "$@" >>"$WORK/client.log" 2>&1 || true
}

expect() {
    printf '%s\t%s\t%s\t%s\n' "$@" >>"$OUT/$CURRENT.expect"
}

# begin NAME [COMMAND...]: the capture is the client side's unless COMMAND starts others.
begin() {
    CURRENT=$1
    shift
    echo "== $CURRENT" >&2
    : >"$OUT/$CURRENT.expect"
    iptables_reset
    if [ $# -eq 0 ]; then start_capture "$CURRENT"; else "$@"; sleep 0.3; fi
}

end() {
    stop_capture
    iptables_reset
}

iptables_reset() {
    in_srv iptables -F
    in_cli iptables -F
    ! ip netns list | grep -qw "$RTR" || ip netns exec "$RTR" iptables -F
}

# A client holding FILE of the data share with a batch oplock, as USER, for
# SECS seconds, that never answers the server's break (oplock_holder.py).
holder_start() { # FILE USER SECS
    in_cli /usr/bin/python3 "$HERE/oplock_holder.py" "$SIP" data "$1" "$2" "$PW" "$3" >>"$WORK/client.log" 2>&1 &
    HOLDER_PID=$!
    sleep 2
}
holder_stop() {
    kill "$HOLDER_PID" 2>/dev/null || true
    wait "$HOLDER_PID" 2>/dev/null || true
}

# ---------------------------------------------------------------- scenarios

healthy_ops() {
    client "//$SIP/data" -U "sdalice%$PW" -c "ls; get hello.txt $WORK/hello.txt; cd small; ls"
}

scenario_healthy() {
    write_conf ""; start_smbd
    begin healthy
    healthy_ops
    # Posture note: the session signs nothing but the tree connects SMB 3.1.1 always signs.
    expect security.unsigned_session 'smb2.flags.response == 0 && smb2.flags.signature == 0 && smb2.sesid != 0 && smb2.cmd != 1 && smb2.cmd != 3' first 'unsigned;sdalice;RequireSecuritySignature'
    end; stop_smbd
}

scenario_share_not_found() {
    write_conf ""; start_smbd
    # SDLAB_SUFFIX: the same scenario over another encapsulation (make-encap-captures.sh).
    begin "share_not_found${SDLAB_SUFFIX:-}"
    client "//$SIP/projects" -U "sdalice%$PW" -c "ls"
    expect tree.share_not_found 'smb2.cmd == 3 && smb2.nt_status == 0xc00000cc' first \
        'STATUS_BAD_NETWORK_NAME;\\10.99.0.2\projects;Get-SmbShare'
    end; stop_smbd
    # The same packets as a netsh trace saved in Network Monitor format: no
    # Windows here to take one, so netsh_cap.py wraps them in NDIS events.
    if [ -z "${SDLAB_SUFFIX:-}" ]; then
        python3 "$HERE/netsh_cap.py" "$OUT/share_not_found.pcap" "$OUT/share_not_found_netsh.cap"
        cp "$OUT/share_not_found.expect" "$OUT/share_not_found_netsh.expect"
    fi
}

scenario_port_blocked() {
    write_conf ""; start_smbd
    begin port_blocked
    in_srv iptables -A INPUT -p tcp --dport 445 -j DROP
    client "//$SIP/data" -U "sdalice%$PW" -c "ls"
    # Conclusive at the third SYN (two retransmissions), whatever the client does next.
    expect transport.syn_unanswered 'tcp.flags.syn == 1 && tcp.flags.ack == 0 && tcp.dstport == 445' nth:3 \
        '10.99.0.2 never answered;port 445;Test-NetConnection;firewall'
    end; stop_smbd
}

scenario_port_closed() {
    begin port_closed
    client "//$SIP/data" -U "sdalice%$PW" -c "ls"
    expect transport.connection_refused 'tcp.flags.reset == 1' first '10.99.0.2:445;nothing'
    end
}

scenario_dialect_rejected() {
    write_conf "    server min protocol = SMB3"; start_smbd
    begin dialect_rejected
    client "//$SIP/data" -U "sdalice%$PW" --option='client max protocol=SMB2_10' -c "ls"
    expect negotiate.rejected 'smb2.cmd == 0 && smb2.nt_status == 0xc00000bb' first \
        'STATUS_NOT_SUPPORTED;2.1;SMB3'
    end; stop_smbd
}

scenario_smb2_disabled_rst() {
    write_conf ""; start_smbd
    begin smb2_disabled_rst
    # Windows with SMB2/3 disabled answers the SMB2 NEGOTIATE with a TCP RST (the
    # seed article's case); the server's netfilter plays that part here: any
    # segment carrying an SMB2 header (0xFE 'SMB') is answered by a reset.
    in_srv iptables -A INPUT -p tcp --dport 445 -m string --algo bm --hex-string '|fe534d42|' -j REJECT --reject-with tcp-reset
    client "//$SIP/data" -U "sdalice%$PW" -c "ls"
    expect negotiate.rejected 'tcp.flags.reset == 1 && ip.src == 10.99.0.2' first 'reset the connection;SMB 3.1.1;SMB3 is a dialect of SMB2;EnableSMB2Protocol'
    end; stop_smbd
}

scenario_smb1_only_client() {
    write_conf ""; start_smbd
    begin smb1_only_client
    client "//$SIP/data" -U "sdalice%$PW" --option='client min protocol=NT1' --option='client max protocol=NT1' -c "ls"
    expect negotiate.rejected 'smb.cmd == 0x72 && smb.flags.response == 1' first 'NT LM 0.12;SMB1'
    end; stop_smbd
}

scenario_wrong_password() {
    write_conf ""; start_smbd
    begin wrong_password
    client "//$SIP/data" -U "sdalice%not-the-password" -c "ls"
    expect session.logon_failure 'smb2.cmd == 1 && smb2.nt_status == 0xc000006d' first \
        'STATUS_LOGON_FAILURE;sdalice;cmdkey'
    end; stop_smbd
}

scenario_share_access_denied() {
    write_conf ""; start_smbd
    begin share_access_denied
    client "//$SIP/restricted" -U "sdalice%$PW" -c "ls"
    expect tree.access_denied 'smb2.cmd == 3 && smb2.nt_status == 0xc0000022' first \
        'STATUS_ACCESS_DENIED;\\10.99.0.2\restricted;sdalice'
    end; stop_smbd
}

scenario_file_not_found() {
    write_conf ""; start_smbd
    begin file_not_found
    client "//$SIP/data" -U "sdalice%$PW" -c "get report-2026.xlsx $WORK/x; get archive\\old\\report.xlsx $WORK/y"
    expect create.not_found 'smb2.cmd == 5 && smb2.nt_status == 0xc0000034' last 'STATUS_OBJECT_NAME_NOT_FOUND;report-2026.xlsx'
    expect create.not_found 'smb2.cmd == 5 && smb2.nt_status == 0xc000003a' last 'STATUS_OBJECT_PATH_NOT_FOUND;archive\old\report.xlsx'
    end; stop_smbd
}

small_files() {
    client "//$SIP/data" -U "sdalice%$PW" -c "prompt off; cd small; lcd $WORK/dl; mget *"
}

scenario_small_files_clean() {
    write_conf ""; start_smbd
    mkdir -p "$WORK/dl"
    begin small_files_clean
    small_files
    expect perf.small_files 'smb2.cmd == 8 && smb2.flags.response == 1 && smb2.nt_status == 0' nth:50 '50 files;2048 bytes per file;robocopy'
    end; stop_smbd
}

scenario_small_files_loss() {
    write_conf ""; start_smbd
    mkdir -p "$WORK/dl"
    begin small_files_loss
    # The seed article's case: the client's requests and ACKs lost on the way to the server.
    in_srv iptables -A INPUT -p tcp --dport 445 -m statistic --mode random --probability 0.05 -j DROP
    small_files
    expect transport.packet_loss 'tcp.analysis.retransmission || tcp.analysis.fast_retransmission || tcp.analysis.out_of_order' any \
        'from the client 10.99.0.1 to the server 10.99.0.2;retransmitted'
    expect perf.small_files 'smb2.cmd == 8 && smb2.flags.response == 1 && smb2.nt_status == 0' nth:50 '50 files;2048 bytes per file;robocopy'
    end; stop_smbd
}

large_file() {
    client "//$SIP/data" -U "sdalice%$PW" -c "get large.bin $WORK/large.bin"
}

scenario_large_file_clean() {
    write_conf ""; start_smbd
    begin large_file_clean
    large_file
    end; stop_smbd
}

scenario_large_file_loss() {
    write_conf ""; start_smbd
    begin large_file_loss
    # Dropped on the client's side after the capture point (tcpdump sees a frame
    # before netfilter's INPUT): the capture shows the server's retransmissions.
    # (Dropping in the server's OUTPUT is not loss: TCP just sends it again at once.)
    in_cli iptables -A INPUT -p tcp --sport 445 -m statistic --mode random --probability 0.01 -j DROP
    large_file
    expect transport.packet_loss 'tcp.analysis.retransmission || tcp.analysis.fast_retransmission || tcp.analysis.out_of_order' any \
        'from the server 10.99.0.2 to the client 10.99.0.1;retransmitted'
    end; stop_smbd
}

scenario_encryption_required() {
    write_conf "    smb encrypt = required"; start_smbd
    begin encryption_required
    client "//$SIP/data" -U "sdalice%$PW" -c "ls"
    end; stop_smbd
}

scenario_encryption_old_client() {
    write_conf "    smb encrypt = required"; start_smbd
    begin encryption_old_client
    client "//$SIP/data" -U "sdalice%$PW" --option='client max protocol=SMB2_10' -c "ls"
    expect session.access_denied 'smb2.cmd == 1 && smb2.nt_status == 0xc0000022' first 'STATUS_ACCESS_DENIED;cannot encrypt;SMB 2.1'
    end; stop_smbd
}

scenario_signing_required() {
    write_conf "    server signing = mandatory"; start_smbd
    begin signing_required
    client "//$SIP/data" -U "sdalice%$PW" -c "ls"
    end; stop_smbd
}

scenario_guest_access() {
    write_conf "    map to guest = bad user"; start_smbd
    begin guest_access
    client "//$SIP/public" -U "nobody-here%whatever" -c "ls"
    expect security.guest_session 'smb2.cmd == 1 && smb2.flags.response == 1 && smb2.nt_status == 0' last 'guest;nobody-here;AllowInsecureGuestAuth'
    end; stop_smbd
}

scenario_rst_mid_session() {
    write_conf ""; start_smbd
    begin rst_mid_session
    # Once 1 MB of the file have come back, the server side answers with a reset
    # (connbytes counts the connection's reply bytes; needs conntrack accounting).
    in_srv sysctl -qw net.netfilter.nf_conntrack_acct=1
    in_srv iptables -A INPUT -p tcp --dport 445 -m connbytes --connbytes 1000000: --connbytes-dir reply --connbytes-mode bytes \
        -j REJECT --reject-with tcp-reset
    client "//$SIP/data" -U "sdalice%$PW" -c "get large.bin $WORK/large2.bin"
    expect transport.reset_mid_session 'tcp.flags.reset == 1 && ip.src == 10.99.0.2' first 'The server 10.99.0.2 reset;READ'
    end; stop_smbd
}

scenario_file_access_denied() {
    write_conf ""; start_smbd
    begin file_access_denied
    client "//$SIP/data" -U "sdalice%$PW" -c "get payroll.xlsx $WORK/p"
    expect create.access_denied 'smb2.cmd == 5 && smb2.nt_status == 0xc0000022' first 'payroll.xlsx;STATUS_ACCESS_DENIED;icacls'
    end; stop_smbd
}

scenario_sharing_violation() {
    write_conf ""; start_smbd
    begin sharing_violation
    # smbclient's open keeps the file open without FILE_SHARE_DELETE; deleting it then collides.
    client "//$SIP/data" -U "sdalice%$PW" -c "open inuse.docx; del inuse.docx"
    expect create.sharing_violation 'smb2.cmd == 5 && smb2.nt_status == 0xc0000043' first 'inuse.docx;STATUS_SHARING_VIOLATION;Get-SmbOpenFile'
    end; stop_smbd
}

scenario_oplock_break_wait() {
    write_conf ""; start_smbd
    begin oplock_break_wait
    # One client holds report.docx with a batch oplock and stops answering; a
    # second client's open of the same file waits for the server's break timeout.
    holder_start inuse.docx sdalice 70
    client "//$SIP/data" -U "sdbob%$PW" --timeout 60 -c "get inuse.docx $WORK/r"
    holder_stop
    expect perf.lease_break_wait 'smb2.cmd == 5 && smb2.flags.response == 1 && smb2.nt_status == 0' last 'inuse.docx;oplock break;never acknowledged;Get-SmbOpenFile'
    end; stop_smbd
}

scenario_delete_pending() {
    write_conf ""; start_smbd
    echo "draft" > "$WORK/share/data/old-draft.docx"; chmod a+rw "$WORK/share/data/old-draft.docx"
    begin delete_pending
    in_cli /usr/bin/python3 "$HERE/delete_pending.py" "$SIP" data old-draft.docx sdalice "$PW" >>"$WORK/client.log" 2>&1 || true
    expect create.delete_pending 'smb2.cmd == 5 && smb2.nt_status == 0xc0000056' first 'old-draft.docx;STATUS_DELETE_PENDING;Get-SmbOpenFile'
    end; stop_smbd
}

scenario_ntlmv1() {
    write_conf "    ntlm auth = yes"; start_smbd
    begin ntlmv1
    client "//$SIP/data" -U "sdalice%$PW" --option='client ntlmv2 auth=no' --option='client use spnego=yes' -c "ls"
    expect security.ntlmv1 'smb2.cmd == 1 && smb2.flags.response == 1 && smb2.nt_status == 0' last 'NTLMv1;sdalice;LmCompatibilityLevel'
    end; stop_smbd
}

# Account states set on the server's own user database (pdbedit, net sam).
account_state() { # NAME RULE STATUS STATUS-NAME COMMAND...
    local name=$1 rule=$2 status=$3 status_name=$4
    shift 4
    write_conf ""; start_smbd
    "$@" >/dev/null
    begin "$name"
    client "//$SIP/data" -U "sdbob%$PW" -c "ls"
    expect "$rule" "smb2.cmd == 1 && smb2.nt_status == $status" first "$status_name;WORKGROUP\\sdbob;Next check"
    end; stop_smbd
}
scenario_account_disabled() {
    account_state account_disabled session.account_disabled 0xc0000072 STATUS_ACCOUNT_DISABLED \
        pdbedit --configfile="$WORK/samba/smb.conf" -u sdbob -c "[D]"
}
scenario_account_locked() {
    account_state account_locked session.account_locked 0xc0000234 STATUS_ACCOUNT_LOCKED_OUT \
        pdbedit --configfile="$WORK/samba/smb.conf" -u sdbob -c "[L]"
}
scenario_password_must_change() {
    account_state password_must_change session.password_expired 0xc0000224 STATUS_PASSWORD_MUST_CHANGE \
        net -s "$WORK/samba/smb.conf" sam set pwdmustchangenow sdbob yes
}
scenario_workstation_restricted() {
    account_state workstation_restricted session.logon_restricted 0xc0000070 STATUS_INVALID_WORKSTATION \
        net -s "$WORK/samba/smb.conf" sam set workstations sdbob OTHERPC
}

scenario_client_gives_up() {
    write_conf "" "    root preexec = /bin/sleep 8"; start_smbd
    begin client_gives_up
    # The share's connect script takes 8 s; the user gives up after 3 s (the
    # client process ends, and its kernel closes the connection with a FIN).
    in_cli timeout -s KILL 3 smbclient --configfile=/dev/null -p 445 "//$SIP/data" -U "sdalice%$PW" -c "ls" >>"$WORK/client.log" 2>&1 || true
    expect transport.closed_with_pending 'tcp.flags.fin == 1 && ip.src == 10.99.0.1' first 'The client 10.99.0.1 closed;TREE_CONNECT'
    end; stop_smbd
}

scenario_dfs_link() {
    write_conf "    host msdfs = yes" "    msdfs root = yes"; start_smbd
    ln -sfn 'msdfs:10.99.0.2\public' "$WORK/share/data/archive"
    begin dfs_link
    client "//$SIP/data" -U "sdalice%$PW" -c "ls archive\\*"
    expect create.path_not_covered 'smb2.cmd == 5 && smb2.nt_status == 0xc0000257' first 'archive;STATUS_PATH_NOT_COVERED;referral'
    end; stop_smbd
    rm -f "$WORK/share/data/archive"
}

scenario_slow_response() {
    write_conf "" "    root preexec = /bin/sleep 2"; start_smbd
    begin slow_response
    client "//$SIP/data" -U "sdalice%$PW" -c "ls"
    expect perf.slow_response 'smb2.cmd == 3 && smb2.flags.response == 1 && smb2.nt_status == 0' last 'TREE_CONNECT;\\10.99.0.2\data'
    end; stop_smbd
}

# Encrypted sessions: smbclient prints its session keys (debug encryption);
# they are recorded beside the capture as Wireshark smb2_seskey_list entries
# (<name>.keys: session id, session key, server-to-client key,
# client-to-server key), which the tests give tshark and smbdiag.
client_keys() {
    local log="$WORK/keys.log"
    in_cli timeout 60 smbclient --configfile=/dev/null -p 445 --option='client smb encrypt = required' --option='debug encryption = yes' "$@" >"$log" 2>&1 || true
    cat "$log" >>"$WORK/client.log"
    python3 "$HERE/session_keys.py" <"$log" >>"$OUT/$CURRENT.keys"
    [ -s "$OUT/$CURRENT.keys" ] || { echo "$CURRENT: smbclient printed no session keys" >&2; cat "$log" >&2; exit 1; }
}

begin_keyed() {
    begin "$1"
    : >"$OUT/$1.keys"
}

# One clean encrypted session per SMB 3.1.1 cipher, and SMB 3.0.2 (AES-128-CCM, 3.0 key labels).
encrypted_with() {
    local name=$1 algo=$2 proto=${3:-SMB3_11}
    write_conf "    server smb encrypt = required"; start_smbd
    begin_keyed "$name"
    client_keys "//$SIP/data" -U "sdalice%$PW" --option="client smb3 encryption algorithms = $algo" --option="client max protocol = $proto" -c "ls; get hello.txt /dev/null"
    end; stop_smbd
}
scenario_encrypted_aes128ccm() { encrypted_with encrypted_aes128ccm aes-128-ccm; }
scenario_encrypted_aes128gcm() { encrypted_with encrypted_aes128gcm aes-128-gcm; }
scenario_encrypted_aes256ccm() { encrypted_with encrypted_aes256ccm aes-256-ccm; }
scenario_encrypted_aes256gcm() { encrypted_with encrypted_aes256gcm aes-256-gcm; }
scenario_encrypted_smb302() { encrypted_with encrypted_smb302 aes-128-ccm SMB3_02; }

# Large encrypted READs and WRITEs: smbclient reads and writes 2 MiB in
# messages of up to 8 MiB (Samba's default max read/write), each one
# TRANSFORM much larger than the 64 KiB the framer keeps of a plain PDU.
scenario_encrypted_large_file() {
    write_conf "    server smb encrypt = required"; start_smbd
    begin_keyed encrypted_large_file
    client_keys "//$SIP/data" -U "sdalice%$PW" -c "get large.bin $WORK/large-enc.bin; put $WORK/large-enc.bin large-copy.bin"
    end; stop_smbd
}

# Seed scenarios inside encryption: the same findings as their plain twins.
scenario_encrypted_share_not_found() {
    write_conf "    server smb encrypt = required"; start_smbd
    begin_keyed encrypted_share_not_found
    client_keys "//$SIP/projects" -U "sdalice%$PW" -c "ls"
    expect tree.share_not_found 'smb2.cmd == 3 && smb2.nt_status == 0xc00000cc' first \
        'STATUS_BAD_NETWORK_NAME;\\10.99.0.2\projects;Get-SmbShare'
    end; stop_smbd
}

scenario_encrypted_share_access_denied() {
    write_conf "    server smb encrypt = required"; start_smbd
    begin_keyed encrypted_share_access_denied
    client_keys "//$SIP/restricted" -U "sdalice%$PW" -c "ls"
    expect tree.access_denied 'smb2.cmd == 3 && smb2.nt_status == 0xc0000022' first \
        'STATUS_ACCESS_DENIED;\\10.99.0.2\restricted;sdalice'
    end; stop_smbd
}

scenario_encrypted_slow_response() {
    write_conf "    server smb encrypt = required" "    root preexec = /bin/sleep 2"; start_smbd
    begin_keyed encrypted_slow_response
    client_keys "//$SIP/data" -U "sdalice%$PW" -c "ls"
    expect perf.slow_response 'smb2.cmd == 3 && smb2.flags.response == 1 && smb2.nt_status == 0' last 'TREE_CONNECT;\\10.99.0.2\data'
    end; stop_smbd
}

# Kerberos: a Samba AD DC in the server namespace (tests/lab/ad_dc.sh).
. "$HERE/ad_dc.sh"

scenario_kerberos_session_expired() {
    dc_up
    begin kerberos_session_expired
    # smbtorture's expire test asks for 4-second tickets; smbd ends the session
    # when the service ticket ends and answers the next request
    # STATUS_NETWORK_SESSION_EXPIRED; the client re-authenticates on the same
    # session id (a new ticket, a new SESSION_SETUP), twice.
    krb_client smbtorture "//labdc.lab.test/data" -U "sdalice%$PW" --use-kerberos=required \
        --option=gensec_gssapi:requested_life_time=4 smb2.session.expire1n || echo "smbtorture expire1n failed" >&2
    expect session.expired 'smb2.nt_status == 0xc000035c' first 'STATUS_NETWORK_SESSION_EXPIRED;QUERY_INFO;Kerberos, ticket for cifs/labdc.lab.test;after its logon in frame;Once is normal;smb2.cmd == 1'
    # smbtorture lets the renewed session expire again: the second expiry says so.
    expect session.expired 'smb2.nt_status == 0xc000035c' last 'STATUS_NETWORK_SESSION_EXPIRED;after its logon in frame;expiry number 2;short-lived'
    end; stop_dc
}

scenario_kerberos_ntlm_fallback() {
    dc_up
    begin kerberos_ntlm_fallback
    # files.lab.test is an alias of the DC with no SPN: the KDC answers the
    # TGS-REQ for cifs/files.lab.test KDC_ERR_S_PRINCIPAL_UNKNOWN (on TCP port
    # 88, in the capture) and smbclient falls back to NTLM.
    krb_client smbclient -p 445 "//files.lab.test/data" -U "sdalice%$PW" --use-kerberos=desired -c "ls" || true
    expect session.ntlm_fallback 'smb2.cmd == 1 && smb2.flags.response == 1 && smb2.nt_status == 0' first \
        'NTLM instead of Kerberos;cifs/files.lab.test;no SPN is registered'
    end; stop_dc
}

scenario_kerberos_healthy() {
    dc_up
    begin kerberos_healthy
    # The same client by the DC's real name: a Kerberos ticket for cifs/labdc.lab.test, no fallback.
    krb_client smbclient -p 445 "//labdc.lab.test/data" -U "sdalice%$PW" --use-kerberos=desired -c "ls; get hello.txt $WORK/krb-hello.txt" || true
    end; stop_dc
}

# Kerberos inside encryption (issue #15): the DC requires encryption of every
# session; smbclient logs on with Kerberos only, and prints its session keys
# (<name>.keys, as for the NTLM captures: what the keytab must lead to). The
# DC's keys are exported as a keytab beside the capture (<name>.keytab: the
# machine account LABDC$, whose keys encrypt tickets for cifs/labdc.lab.test;
# lab-only secrets), and the user's own keys as a keytab that must not open
# the ticket (<name>.wrong.keytab). KRB_ETYPES narrows the client's Kerberos
# encryption types (krb5.conf), so each ticket cipher gets a capture.
krb_encrypted() { # NAME SHARE COMMANDS [ETYPES]
    local name=$1 share=$2 cmds=$3 etypes=${4:-} conf="$WORK/krb/krb5.conf"
    stop_dc; DC_GLOBAL="server smb encrypt = required" dc_up
    if [ -n "$etypes" ]; then
        conf="$WORK/krb/krb5-$name.conf"
        sed "/^\[libdefaults\]/a\\    default_etypes = $etypes\n    default_tgs_enctypes = $etypes\n    default_tkt_enctypes = $etypes\n    permitted_enctypes = $etypes" \
            "$WORK/krb/krb5.conf" >"$conf"
    fi
    rm -f "$WORK/krb/ccache"
    begin_keyed "$name"
    KRB_CONF=$conf KRB_LOG="$WORK/keys.log" krb_client smbclient -p 445 "//labdc.lab.test/$share" -U "sdalice%$PW" \
        --use-kerberos=required --option='client smb encrypt = required' --option='debug encryption = yes' -c "$cmds" || true
    cat "$WORK/keys.log" >>"$WORK/client.log"
    python3 "$HERE/session_keys.py" <"$WORK/keys.log" >>"$OUT/$name.keys"
    rm -f "$WORK/keys.log"
    [ -s "$OUT/$name.keys" ] || { echo "$name: smbclient printed no session keys" >&2; exit 1; }
    end
    rm -f "$OUT/$name.keytab" "$OUT/$name.wrong.keytab"
    in_srv samba-tool domain exportkeytab "$OUT/$name.keytab" --principal='LABDC$' -s "$DC_CONF" >/dev/null
    in_srv samba-tool domain exportkeytab "$OUT/$name.wrong.keytab" --principal=sdalice -s "$DC_CONF" >/dev/null
    chmod 644 "$OUT/$name.keytab" "$OUT/$name.wrong.keytab"
    stop_dc
}

scenario_kerberos_encrypted_share_not_found() {
    krb_encrypted kerberos_encrypted_share_not_found projects "ls"
    expect tree.share_not_found 'smb2.cmd == 3 && smb2.nt_status == 0xc00000cc' first \
        'STATUS_BAD_NETWORK_NAME;\\labdc.lab.test\projects;Get-SmbShare'
}
scenario_kerberos_encrypted_aes128() { krb_encrypted kerberos_encrypted_aes128 data "ls" aes128-cts-hmac-sha1-96; }
scenario_kerberos_encrypted_rc4() { krb_encrypted kerberos_encrypted_rc4 data "ls" arcfour-hmac-md5; }

scenario_session_deleted() {
    write_conf ""; start_smbd
    begin session_deleted
    # The client logs off, then sends a TREE_CONNECT on the old session id, as a
    # client does when the server dropped its session without it noticing.
    in_cli /usr/bin/python3 "$HERE/session_deleted.py" "$SIP" data sdalice "$PW" >>"$WORK/client.log" 2>&1 || true
    expect session.deleted 'smb2.cmd == 3 && smb2.nt_status == 0xc0000203' first 'STATUS_USER_SESSION_DELETED;TREE_CONNECT;of sdalice off in frame;(LOGOFF);kept using the session id'
    end; stop_smbd
}

scenario_plain_on_encrypted_share() {
    write_conf "" "    server smb encrypt = desired"; start_smbd
    begin plain_on_encrypted_share
    # The share asks for encryption (desired: it does not insist); an SMB 3
    # client that ignores the request reads a file with plain requests. Samba
    # serves them but encrypts every answer on that tree (SMB2 TRANSFORM), so
    # the capture shows plain requests and encrypted responses.
    in_cli /usr/bin/python3 "$HERE/plain_on_encrypted_share.py" "$SIP" data hello.txt sdalice "$PW" >>"$WORK/client.log" 2>&1 || true
    expect security.no_encryption 'smb2.cmd == 5 && smb2.flags.response == 0' first 'asks for encryption;\\10.99.0.2\data;CREATE;negotiated SMB 3.0, which can encrypt;ignores the share'"'"'s request'
    end; stop_smbd
}

scenario_durable_handle_lost() {
    # Durable handles need Samba's locking kept inside smbd (smb.conf(5), durable handles).
    write_conf "" "    durable handles = yes
    kernel oplocks = no
    kernel share modes = no
    posix locking = no"; start_smbd
    begin durable_handle_lost
    # A client holds a durable handle on a document and loses its connection;
    # the server restarts while it is away (forgetting the handle); the
    # client's reconnect of the handle is refused and it opens the file anew.
    in_cli /usr/bin/python3 "$HERE/durable_reconnect.py" open "$SIP" data quarterly.xlsx sdalice "$PW" "$WORK/durable.state" >>"$WORK/client.log" 2>&1 || true
    sleep 1
    stop_smbd
    # A real restart: every process of that smbd gone (its helpers hold the
    # volatile state databases open, which survive while any process has them).
    for _ in $(seq 100); do pgrep -f -- "--configfile=$WORK/samba/smb.conf" >/dev/null || break; sleep 0.1; done
    start_smbd
    in_cli /usr/bin/python3 "$HERE/durable_reconnect.py" reconnect "$SIP" data quarterly.xlsx sdalice "$PW" "$WORK/durable.state" >>"$WORK/client.log" 2>&1 || true
    expect create.durable_handle_lost 'smb2.cmd == 5 && smb2.nt_status == 0xc0000034' first 'quarterly.xlsx;STATUS_OBJECT_NAME_NOT_FOUND;granted that durable handle in frame;with a 60 s timeout;within the timeout;restarted'
    end; stop_smbd
}

scenario_unanswered_open() {
    write_conf ""; start_smbd
    begin unanswered_open
    # One client holds inuse.docx with a batch oplock and never answers the
    # break; another client's open of it waits for the server's break timeout
    # while the same connection keeps asking for hello.txt's attributes.
    holder_start inuse.docx sdbob 45
    in_cli timeout 90 /usr/bin/python3 "$HERE/unanswered_open.py" "$SIP" data inuse.docx hello.txt sdalice "$PW" >>"$WORK/client.log" 2>&1 || true
    holder_stop
    # perf.unanswered on the 4th QUERY_INFO answer (12 s after the open); the
    # open's own answer (the last successful CREATE) waited behind the break.
    expect perf.unanswered 'smb2.cmd == 16 && smb2.flags.response == 1' nth:4 'No final response to the CREATE request;kept answering later requests;interim STATUS_PENDING in frame;waiting for the oplock/lease break the server sent in frame;smbstatus'
    expect perf.lease_break_wait 'smb2.cmd == 5 && smb2.flags.response == 1 && smb2.nt_status == 0' last 'inuse.docx;oplock break;never acknowledged'
    end; stop_smbd
}

scenario_credit_starvation() {
    head -c $((4 * 1024 * 1024)) /dev/urandom > "$WORK/share/data/backup.vhdx"
    chmod a+rw "$WORK/share/data/backup.vhdx"
    # A server that grants each client at most 4 credits: smbclient sizes each
    # READ to the credits it holds (4 x 64 KiB), spends them all, and asks for
    # 8189 more each time; the server grants 4, so the next READ waits for the
    # answer to the last. Jumbo frames keep the 4 MiB capture near 550 frames.
    write_conf "    smb2 max credits = 4"; start_smbd
    in_cli ip link set "$IFC" mtu 9000; in_srv ip link set "$IFS_" mtu 9000
    begin credit_starvation
    client "//$SIP/data" -U "sdalice%$PW" -c "get backup.vhdx $WORK/backup.vhdx"
    # Conclusive at the 9th READ: the 8th that could leave only after a grant.
    expect perf.credit_starvation 'smb2.cmd == 8 && smb2.flags.response == 0' nth:9 \
        'at most 4 credits (256 KiB;asked for up to 8189 more;one request at a time;8 times the client spent its credits on a READ;smb2 max credits;Smb2CreditsMax'
    end; stop_smbd
    in_cli ip link set "$IFC" mtu 1500; in_srv ip link set "$IFS_" mtu 1500
    rm -f "$WORK/share/data/backup.vhdx" "$WORK/backup.vhdx"
}

# A client command with the lab's Kerberos setup, like krb_client, for tools
# that take no Samba options (kinit, kvno, faketime smbclient --configfile=...).
krb_cmd() {
    local k="$WORK/krb"
    in_cli env KRB5_CONFIG="$k/krb5.conf" KRB5CCNAME="FILE:$k/ccache" \
        unshare -m --propagation private sh -c 'mount --bind "$1" /etc/hosts && shift && exec "$@"' sh "$k/hosts" \
        timeout 90 "$@" >>"${KRB_LOG:-$WORK/client.log}" 2>&1
}

scenario_trust_no_logon_servers() {
    dc_up
    # The DC trusts a domain OTHER whose domain controllers do not exist (the
    # trusted domain object made through the DC's own LSA, as samba-tool does
    # for its side of a trust); the DC reads its trusts when it starts.
    in_srv /usr/bin/python3 "$HERE/create_trust.py" create "$SIP" Administrator "$PW" OTHER S-1-5-21-1111-2222-3333 >/dev/null
    stop_dc; dc_up
    begin trust_no_logon_servers
    # A user of OTHER: the client finds no KDC for realm OTHER and uses NTLM;
    # the DC hands the logon to its winbindd, which finds no DC of OTHER to
    # pass it to: STATUS_NO_LOGON_SERVERS, at once.
    krb_client smbclient -p 445 "//labdc.lab.test/data" -U "OTHER\\bob%$PW" --use-kerberos=desired -c "ls" || true
    expect session.no_trust 'smb2.cmd == 1 && smb2.nt_status == 0xc000005e' first 'STATUS_NO_LOGON_SERVERS;OTHER\bob;domain controller;belongs to domain OTHER;nltest /dsgetdc:OTHER'
    end
    in_srv /usr/bin/python3 "$HERE/create_trust.py" delete "$SIP" Administrator "$PW" OTHER S-1-5-21-1111-2222-3333 >/dev/null
    stop_dc
}

# Clock skew: the client's clock 15 minutes ahead of the DC's (libfaketime, in
# the client process only; Kerberos allows 5 minutes).
need_faketime() {
    command -v faketime >/dev/null && command -v kinit >/dev/null ||
        { echo "missing faketime or kinit: apt-get install -y faketime krb5-user" >&2; exit 1; }
}

scenario_kerberos_clock_skew_kdc() {
    need_faketime; dc_up
    begin kerberos_clock_skew_kdc
    # smbclient's own logon (AS-REQ) goes through, but the KDC answers both its
    # TGS-REQs for cifs/labdc.lab.test KRB_AP_ERR_SKEW (on TCP port 88).
    # smbclient's Kerberos (Heimdal, FAST-armored TGS-REQ) takes the unarmored
    # error for a failure ("FAST fast response is missing FX-FAST") and gives
    # up with NT_STATUS_LOGON_FAILURE before any SESSION_SETUP: no NTLM fallback.
    krb_cmd faketime -f +15m smbclient --configfile="$WORK/krb/smb.conf" -p 445 "//labdc.lab.test/data" -U "sdalice%$PW" \
        --use-kerberos=desired -c "ls" || true
    expect session.kerberos_failed 'tcp.flags.fin == 1 && ip.src == 10.99.0.1 && tcp.port == 445' first \
        'The client 10.99.0.1 gave up;without logging on;KRB_AP_ERR_SKEW;cifs/labdc.lab.test;clock;w32tm'
    end; stop_dc
}

scenario_kerberos_clock_skew_server() {
    need_faketime; dc_up
    # Tickets first, on time: a TGT and a service ticket for cifs/labdc.lab.test.
    echo "$PW" | krb_cmd kinit sdalice@LAB.TEST
    krb_cmd kvno cifs/labdc.lab.test@LAB.TEST
    begin kerberos_clock_skew_server
    # Then the clock jumps: the KDC refuses the client's TGS-REQs (for a
    # krbtgt ticket to delegate) KRB_AP_ERR_SKEW, and smbd answers the AP-REQ made from the cached ticket
    # (a skewed authenticator) STATUS_MORE_PROCESSING_REQUIRED with a KRB-ERROR
    # KRB_AP_ERR_SKEW carrying its own time, as Windows does; the client
    # corrects its clock offset and its next AP-REQ logs on. (Not
    # STATUS_TIME_DIFFERENCE_AT_DC: Samba's Kerberos acceptor, Heimdal's
    # GSS-API, answers a skewed authenticator with that error token.)
    krb_cmd faketime -f +15m smbclient --configfile="$WORK/krb/smb.conf" -p 445 "//labdc.lab.test/data" \
        --use-krb5-ccache="FILE:$WORK/krb/ccache" -c "ls" || true
    end
    rm -f "$WORK/krb/ccache"
    stop_dc
}

scenario_server_zero_window() {
    # A fixed receive buffer on the server (set before smbd opens its socket),
    # so a stalled smbd closes its window after a few hundred KiB.
    local rmem
    rmem=$(in_srv sysctl -n net.ipv4.tcp_rmem)
    in_srv sysctl -qw net.ipv4.tcp_rmem="4096 262144 262144"
    write_conf ""; start_smbd
    begin server_zero_window
    # The client opens a file, then the smbd process serving it freezes for
    # 2 s (as a server stuck on its storage would) while the client writes
    # 2 MiB: smbd stops reading its socket, the receive buffer fills and the
    # server's TCP advertises a zero window until it resumes.
    coproc UPLOAD { in_cli /usr/bin/python3 "$HERE/stalled_upload.py" "$SIP" data upload.bin $((2 * 1024 * 1024)) sdalice "$PW" 2>>"$WORK/client.log"; }
    local line pid
    read -r line <&"${UPLOAD[0]}"
    pid=$(in_srv ss -tnpH state established "( sport = :445 )" | grep -o 'pid=[0-9]*' | head -1 | cut -d= -f2 || true)
    [ -n "$pid" ] || { echo "server_zero_window: no smbd connection process" >&2; exit 1; }
    kill -STOP "$pid"
    echo go >&"${UPLOAD[1]}"
    sleep 2
    kill -CONT "$pid"
    read -r line <&"${UPLOAD[0]}" || true
    wait "$UPLOAD_PID" 2>/dev/null || true
    in_srv sysctl -qw net.ipv4.tcp_rmem="$rmem"
    rm -f "$WORK/share/data/upload.bin"
    expect transport.zero_window 'tcp.analysis.window_update && ip.src == 10.99.0.2' first 'The server 10.99.0.2 advertised a zero TCP receive window;not at the network;disk latency and CPU on 10.99.0.2'
    end; stop_smbd
}

# Not a fixture (too big to commit): the bulk transfer scripts/bench.sh measures on.
# SDLAB_OUT=target/bench SDLAB_TCPDUMP_BUFFER_KIB=1048576 tests/lab/make-captures.sh bench_bulk
scenario_bench_bulk() {
    mkdir -p "$WORK/share/data/many" "$WORK/dl2"
    for i in $(seq 1 3000); do head -c 4096 /dev/urandom > "$WORK/share/data/many/m$i.bin"; done
    head -c $((200 * 1024 * 1024)) /dev/urandom > "$WORK/share/data/huge.bin"
    chmod -R a+rwX "$WORK/share/data"
    write_conf ""; start_smbd
    begin bench_bulk
    client "//$SIP/data" -U "sdalice%$PW" -c "get huge.bin /dev/null; prompt off; cd many; lcd $WORK/dl2; mget *"
    end; stop_smbd
    rm -f "$OUT/bench_bulk.expect"
}

# ------------------------------------------------ the same packet captured twice
# Copies are not retransmissions (issue #12): smbdiag decodes each packet once,
# and a capture holding copies raises what the single capture raises.
UNSIGNED_FILTER='smb2.flags.response == 0 && smb2.flags.signature == 0 && smb2.sesid != 0 && smb2.cmd != 1 && smb2.cmd != 3'

scenario_copies_bridge() {
    net_bridged; write_conf ""; start_smbd
    # tcpdump -i any on the server: each packet on the bridge port and on the bridge.
    begin copies_bridge capture_at "$SRV" any "$OUT/copies_bridge.pcap" -y LINUX_SLL2
    healthy_ops
    expect security.unsigned_session "$UNSIGNED_FILTER" first 'unsigned;sdalice;RequireSecuritySignature'
    end; stop_smbd; net_up
}

scenario_copies_bridge_loss() {
    net_bridged; write_conf ""; start_smbd
    mkdir -p "$WORK/dl"
    begin copies_bridge_loss capture_at "$SRV" any "$OUT/copies_bridge_loss.pcap" -y LINUX_SLL2
    # Dropped by the server's INPUT chain, after both capture points: real loss among the copies.
    in_srv iptables -A INPUT -p tcp --dport 445 -m statistic --mode random --probability 0.05 -j DROP
    small_files
    expect transport.packet_loss 'tcp.analysis.retransmission || tcp.analysis.fast_retransmission || tcp.analysis.out_of_order' any \
        'from the client 10.99.0.1 to the server 10.99.0.2;retransmitted'
    end; stop_smbd; net_up
}

scenario_copies_router() {
    net_routed; write_conf ""; start_smbd
    # tcpdump -i any on a router: each packet as it comes in and as it goes out (TTL one lower).
    begin copies_router capture_at "$RTR" any "$OUT/copies_router.pcap"
    healthy_ops
    expect security.unsigned_session "$UNSIGNED_FILTER" first 'unsigned;sdalice;RequireSecuritySignature'
    end; stop_smbd; net_up
}

scenario_copies_two_interfaces() {
    net_bridged; write_conf ""; start_smbd
    # Two captures on one host, the bridge port and the bridge, merged (one interface each in the pcapng).
    begin copies_two_interfaces eval 'capture_at "$SRV" sdl-s "$WORK/port.pcap"; capture_at "$SRV" sdl-br "$WORK/bridge.pcap"'
    healthy_ops
    expect security.unsigned_session "$UNSIGNED_FILTER" first 'unsigned;sdalice;RequireSecuritySignature'
    end; stop_smbd; net_up
    # -I none: each file its own interface (as dumpcap -i A -i B writes), not folded into one.
    mergecap -I none -w "$OUT/copies_two_interfaces.pcapng" "$WORK/port.pcap" "$WORK/bridge.pcap"
}

# ------------------------------------------ two capture points (issue #14)
# A router between client and server; one capture at each end, at once, kept
# apart (NAME.client.pcap, NAME.server.pcap) and merged (NAME.pcapng).
TWO_OUT=$OUT/two_sided
two_sided_capture() {
    mkdir -p "$TWO_OUT"
    capture_at "$CLI" "$RC" "$TWO_OUT/$CURRENT.client.pcap"
    capture_at "$SRV" "$RS" "$TWO_OUT/$CURRENT.server.pcap"
}
two_sided_end() {
    end; stop_smbd
    mergecap -I none -w "$TWO_OUT/$CURRENT.pcapng" "$TWO_OUT/$CURRENT.client.pcap" "$TWO_OUT/$CURRENT.server.pcap"
    # Asserted by tests/two_points.rs, not by the one-capture expectations.
    rm -f "$OUT/$CURRENT.expect"
    net_up
}
rtr() { ip netns exec "$RTR" "$@"; }

# A connection attempt with one netfilter rule on the way (COMMAND...).
two_sided_attempt() { # NAME COMMAND...
    local name=$1
    shift
    net_routed; write_conf ""; start_smbd
    begin "$name" two_sided_capture
    "$@"
    client "//$SIP/data" -U "sdalice%$PW" -c "ls"
    two_sided_end
}
# The router drops SMB; the server's INPUT chain drops it; the router rejects
# it with a reset in the server's name.
scenario_two_blocked_on_path() { two_sided_attempt two_blocked_on_path rtr iptables -A FORWARD -p tcp --dport 445 -j DROP; }
scenario_two_blocked_by_server() { two_sided_attempt two_blocked_by_server in_srv iptables -A INPUT -p tcp --dport 445 -j DROP; }
scenario_two_reset_on_path() {
    two_sided_attempt two_reset_on_path rtr iptables -A FORWARD -p tcp --dport 445 -j REJECT --reject-with tcp-reset
}

scenario_two_loss_on_path() {
    net_routed; write_conf ""; start_smbd
    mkdir -p "$WORK/dl"
    begin two_loss_on_path two_sided_capture
    rtr iptables -A FORWARD -p tcp -m statistic --mode random --probability 0.03 -j DROP
    small_files
    two_sided_end
}

scenario_two_slow_server() {
    net_routed; write_conf "" "    root preexec = /bin/sleep 2"; start_smbd
    begin two_slow_server two_sided_capture
    client "//$SIP/data" -U "sdalice%$PW" -c "ls"
    two_sided_end
}

scenario_two_request_dropped() {
    net_routed; write_conf ""; start_smbd
    begin two_request_dropped two_sided_capture
    # The router drops every packet naming the share "projects" (UTF-16): the
    # TREE_CONNECT for it leaves the client and never reaches the server.
    rtr iptables -A FORWARD -p tcp --dport 445 -m string --algo bm --hex-string '|700072006f006a006500630074007300|' -j DROP
    client "//$SIP/projects" -U "sdalice%$PW" --timeout 8 -c "ls"
    two_sided_end
}

# Every packet through the router held 600 ms each way (nfq_delay.py, an
# NFQUEUE program: this kernel has no netem): a slow network, a quick server.
scenario_two_delay_on_path() {
    net_routed; write_conf ""; start_smbd
    begin two_delay_on_path two_sided_capture
    ip netns exec "$RTR" /usr/bin/python3 "$HERE/nfq_delay.py" 7 600 >>"$WORK/client.log" 2>&1 &
    local holder=$!
    sleep 1
    rtr iptables -A FORWARD -p tcp -j NFQUEUE --queue-num 7
    client "//$SIP/data" -U "sdalice%$PW" -c "ls"
    sleep 2
    kill "$holder"; wait "$holder" 2>/dev/null || true
    two_sided_end
}

# The router drops the server's bare ACKs (no payload): the client sends again
# what the server already has. The share's connect script takes 1 s, so the
# TREE_CONNECT request waits for its ACK long enough to be sent again.
scenario_two_ack_lost() {
    net_routed; write_conf "" "    root preexec = /bin/sleep 1"; start_smbd
    begin two_ack_lost two_sided_capture
    rtr iptables -A FORWARD -p tcp --sport 445 --tcp-flags ALL ACK -m length --length 40:60 -j DROP
    client "//$SIP/data" -U "sdalice%$PW" -c "ls"
    two_sided_end
}

# The router translates the client's address (MASQUERADE: the server's side
# sees 10.99.1.254) and drops the TREE_CONNECT for "projects", as in
# two_request_dropped: the two views pair by sequence numbers and payloads.
scenario_two_nat() {
    net_routed; write_conf ""; start_smbd
    begin two_nat two_sided_capture
    rtr iptables -t nat -A POSTROUTING -o "$RRS" -j MASQUERADE
    rtr iptables -A FORWARD -p tcp --dport 445 -m string --algo bm --hex-string '|700072006f006a006500630074007300|' -j DROP
    client "//$SIP/projects" -U "sdalice%$PW" --timeout 8 -c "ls"
    rtr iptables -t nat -F
    two_sided_end
}

# IPv6 between the sides, TCP timestamps off (Windows' default): neither an IP
# identification nor a TCP timestamp tells a copy from a retransmission.
SIP6=fd99:1::2
net_routed6() {
    net_routed
    local ns
    for ns in "$CLI" "$SRV"; do ip netns exec "$ns" sysctl -qw net.ipv4.tcp_timestamps=0; done
    in_cli ip -6 addr add fd99:0::1/64 dev "$RC" nodad
    rtr ip -6 addr add fd99:0::fe/64 dev "$RRC" nodad
    rtr ip -6 addr add fd99:1::fe/64 dev "$RRS" nodad
    in_srv ip -6 addr add "$SIP6/64" dev "$RS" nodad
    in_cli ip -6 route add default via fd99:0::fe
    in_srv ip -6 route add default via fd99:1::fe
    rtr sysctl -qw net.ipv6.conf.all.forwarding=1
}
# two_request_dropped over IPv6: the router drops the TREE_CONNECT for "projects".
scenario_two_v6_request_dropped() {
    net_routed6; write_conf "    interfaces = $SIP/24 $SIP6/64"; start_smbd
    begin two_v6_request_dropped two_sided_capture
    rtr ip6tables -A FORWARD -p tcp --dport 445 -m string --algo bm --hex-string '|700072006f006a006500630074007300|' -j DROP
    client //LABSRV/projects -I "$SIP6" -U "sdalice%$PW" --timeout 8 -c "ls"
    rtr ip6tables -F
    two_sided_end
}
# two_slow_server over IPv6: the share's connect script sleeps 2 s.
scenario_two_v6_slow_server() {
    net_routed6; write_conf "    interfaces = $SIP/24 $SIP6/64" "    root preexec = /bin/sleep 2"; start_smbd
    begin two_v6_slow_server two_sided_capture
    client //LABSRV/data -I "$SIP6" -U "sdalice%$PW" -c "ls"
    two_sided_end
}

# Two machines whose clocks differ. The lab's namespaces share one clock, so
# the server's file of a two-sided scenario is shifted 2.5 s (editcap -t), as a
# server clock 2.5 s ahead would have stamped it, and merged twice: each side
# its own interface (-I none), and both on one (mergecap folds the two
# identical interface descriptions by default).
scenario_two_clock_offset() {
    local n
    for n in two_slow_server two_request_dropped two_blocked_by_server two_loss_on_path two_delay_on_path two_ack_lost two_nat \
        two_v6_request_dropped two_v6_slow_server; do
        echo "== $n shifted" >&2
        editcap -t 2.5 "$TWO_OUT/$n.server.pcap" "$WORK/shifted.pcap"
        mergecap -I none -w "$TWO_OUT/$n.offset.pcapng" "$TWO_OUT/$n.client.pcap" "$WORK/shifted.pcap"
        mergecap -w "$TWO_OUT/$n.offset_one_if.pcapng" "$TWO_OUT/$n.client.pcap" "$WORK/shifted.pcap"
    done
    # A server clock 2.5 s behind: its copies come first in the merged file.
    n=two_slow_server
    editcap -t -2.5 "$TWO_OUT/$n.server.pcap" "$WORK/shifted.pcap"
    mergecap -I none -w "$TWO_OUT/$n.behind.pcapng" "$TWO_OUT/$n.client.pcap" "$WORK/shifted.pcap"
    mergecap -w "$TWO_OUT/$n.behind_one_if.pcapng" "$TWO_OUT/$n.client.pcap" "$WORK/shifted.pcap"
}

ALL=(healthy share_not_found port_blocked port_closed dialect_rejected smb2_disabled_rst smb1_only_client wrong_password
     share_access_denied file_not_found small_files_clean small_files_loss large_file_clean large_file_loss
     encryption_required encryption_old_client signing_required guest_access rst_mid_session slow_response
     file_access_denied sharing_violation oplock_break_wait delete_pending ntlmv1 account_disabled account_locked dfs_link
     password_must_change workstation_restricted client_gives_up
     session_deleted plain_on_encrypted_share durable_handle_lost unanswered_open
     kerberos_session_expired kerberos_ntlm_fallback kerberos_healthy credit_starvation
     trust_no_logon_servers kerberos_clock_skew_kdc kerberos_clock_skew_server
     server_zero_window
     copies_bridge copies_bridge_loss copies_router copies_two_interfaces
     two_blocked_on_path two_blocked_by_server two_reset_on_path two_loss_on_path two_slow_server two_request_dropped
     two_delay_on_path two_ack_lost two_nat two_v6_request_dropped two_v6_slow_server two_clock_offset

     encrypted_aes128ccm encrypted_aes128gcm encrypted_aes256ccm encrypted_aes256gcm encrypted_smb302
     encrypted_share_not_found encrypted_share_access_denied encrypted_slow_response encrypted_large_file
     kerberos_encrypted_share_not_found kerberos_encrypted_aes128 kerberos_encrypted_rc4)

# Sourced by a sibling script (make-encap-captures.sh) for its functions only.
if [ -n "${SDLAB_LIBRARY:-}" ]; then return 0; fi

net_up
users_up
data_up
: >"$WORK/client.log"
if [ $# -gt 0 ]; then RUN=("$@"); else RUN=("${ALL[@]}"); fi
for s in "${RUN[@]}"; do
    "scenario_$s"
done
cp "$WORK/client.log" "$OUT/client.log"
echo "captures in $OUT (smbclient output in client.log)" >&2
