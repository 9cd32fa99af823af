# Sourced by make-captures.sh: a Samba Active Directory domain controller (KDC,
# LDAP and file server in one `samba` process tree) in the server namespace, so
# the lab gets real Kerberos sessions. Realm LAB.TEST, DC labdc.lab.test at
# 10.99.0.2; domain user sdalice with the lab's password.
#
# Nothing leaves the namespaces: the DC runs no DNS server (nothing to forward
# to), the client's krb5.conf names the KDC by address (over TCP: udp_preference_limit
# = 1, so the tcp-only capture shows the Kerberos exchange) and resolves no names
# through DNS; the client reads host names from a hosts file of its own,
# bind-mounted over /etc/hosts in a private mount namespace.
#
# Uses from make-captures.sh: WORK, PW, SIP, in_srv, in_cli.

DC_PID=""
DC_REALM=LAB.TEST

# Provision once per run (a few seconds), then start the DC.
dc_up() {
    local d="$WORK/dc" k="$WORK/krb"
    if [ ! -f "$d/etc/smb.conf" ]; then
        command -v samba >/dev/null && command -v samba-tool >/dev/null ||
            { echo "missing samba (AD DC): apt-get install -y samba-ad-dc samba-ad-provision winbind" >&2; exit 1; }
        mkdir -p "$d/log" "$d/pid" "$k/cli" "$WORK/share/dc"
        echo "hello from the DC" >"$WORK/share/dc/hello.txt"
        chmod -R a+rwX "$WORK/share/dc"
        in_srv samba-tool domain provision --realm="$DC_REALM" --domain=LAB --server-role=dc \
            --dns-backend=NONE --adminpass="$PW" --host-ip="$SIP" --host-name=labdc --targetdir="$d" \
            --option="interfaces = $SIP/24" --option="bind interfaces only = yes" \
            --option="server services = s3fs, rpc, ldap, cldap, kdc, winbindd" \
            --option="smb ports = 445" --option="disable netbios = yes" --option="tls enabled = no" \
            --option="prefork children = 1" --option="pid directory = $d/pid" \
            --option="ncalrpc dir = $d/ncalrpc" --option="ntp signd socket directory = $d/ntp_signd" \
            --option="log file = $d/log/%m.log" --option="load printers = no" --option="printing = bsd" \
            --option="printcap name = /dev/null" --option="disable spoolss = yes" \
            >"$d/provision.log" 2>&1 || { cat "$d/provision.log" >&2; exit 1; }
        printf '\n[data]\n\tpath = %s\n\tread only = no\n' "$WORK/share/dc" >>"$d/etc/smb.conf"
        in_srv samba-tool user create sdalice "$PW" -s "$d/etc/smb.conf" >/dev/null
        in_srv samba-tool user setexpiry --noexpiry sdalice -s "$d/etc/smb.conf" >/dev/null
        cat >"$k/krb5.conf" <<EOF
[libdefaults]
    default_realm = $DC_REALM
    dns_lookup_realm = false
    dns_lookup_kdc = false
    dns_canonicalize_hostname = false
    rdns = false
    udp_preference_limit = 1
[realms]
    $DC_REALM = {
        kdc = $SIP
        admin_server = $SIP
    }
[domain_realm]
    .lab.test = $DC_REALM
    lab.test = $DC_REALM
EOF
        # files.lab.test: an alias of the DC (a CNAME, say) that has no SPN.
        printf '127.0.0.1 localhost\n%s labdc.lab.test labdc files.lab.test\n' "$SIP" >"$k/hosts"
        cat >"$k/smb.conf" <<EOF
[global]
    workgroup = LAB
    realm = $DC_REALM
    name resolve order = host
    lock directory = $k/cli
    state directory = $k/cli
    cache directory = $k/cli
    private dir = $k/cli
EOF
    fi
    # DC_GLOBAL: one more [global] option for this start (a copy of the
    # provisioned smb.conf), e.g. "server smb encrypt = required".
    local conf="$d/etc/smb.conf"
    if [ -n "${DC_GLOBAL:-}" ]; then
        conf="$d/etc/smb-extra.conf"
        sed "/^\[global\]/a\\	$DC_GLOBAL" "$d/etc/smb.conf" >"$conf"
    fi
    DC_CONF=$conf
    # A DC's smbd finds its winbindd at /run/samba/winbindd (built into
    # libwbclient, whatever smb.conf says): give the DC a private /run.
    in_srv unshare -m --propagation private sh -c \
        'mount -t tmpfs -o mode=755 sdlab-dc-run /run && mkdir -p /run/samba && exec samba -D -s "$1"' sh "$conf"
    for _ in $(seq 100); do
        DC_PID=$(cat "$d/pid/samba.pid" 2>/dev/null || true)
        # Ready when an NTLM logon to the share works (KDC, smbd and winbindd all up).
        if [ -n "$DC_PID" ] && in_srv ss -ltn | grep -q "$SIP:88 " &&
            KRB_LOG=/dev/null krb_client smbclient -p 445 "//labdc.lab.test/data" -U "sdalice%$PW" --use-kerberos=off -c "exit"; then
            return 0
        fi
        sleep 0.3
    done
    echo "the AD DC did not start" >&2
    tail -n 50 "$d"/log/* >&2 || true
    exit 1
}

stop_dc() {
    [ -n "$DC_PID" ] || return 0
    local d="$WORK/dc" p pids
    pids="$DC_PID $(cat "$d/pid/smbd.pid" "$d/pid/winbindd.pid" 2>/dev/null || true)"
    # The samba parent stops its tasks and the smbd and winbindd it started.
    kill -TERM "$DC_PID" 2>/dev/null || true
    for _ in $(seq 100); do
        local alive=""
        for p in $pids; do kill -0 "$p" 2>/dev/null && alive=1; done
        [ -n "$alive" ] || break
        sleep 0.1
    done
    DC_PID=""
}

# A client command in the client namespace with the lab's Kerberos setup and
# hosts file; returns the command's status, output to client.log (or KRB_LOG).
krb_client() {
    local k="$WORK/krb" tool=$1
    shift
    in_cli env KRB5_CONFIG="${KRB_CONF:-$k/krb5.conf}" KRB5CCNAME="FILE:$k/ccache" \
        unshare -m --propagation private sh -c 'mount --bind "$1" /etc/hosts && shift && exec "$@"' sh "$k/hosts" \
        timeout 90 "$tool" --configfile="$k/smb.conf" "$@" >>"${KRB_LOG:-$WORK/client.log}" 2>&1
}
