//! The rule table. Rule ids are user-facing (filters, expert items named
//! `smbdiag.<id>`, docs/rules.md): never rename one.

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Severity {
    Chat,
    Note,
    Warn,
    Error,
}

/// Expert-info group, as Wireshark groups them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Group {
    Sequence,
    ResponseCode,
    Security,
    Protocol,
    Malformed,
    Undecoded,
    Comment,
}

#[derive(Debug, PartialEq, Eq)]
pub struct RuleDef {
    pub id: &'static str,
    pub severity: Severity,
    pub group: Group,
    /// Short title (expert-info summary).
    pub title: &'static str,
    /// For docs/rules.md: when it fires (the evidence), the likely cause and the next check.
    pub explain: &'static str,
    /// For docs/rules.md: a capture (and frame) in the repo where it fires.
    pub example: &'static str,
}

macro_rules! rules {
    ($( $konst:ident = ($id:literal, $sev:ident, $grp:ident, $title:literal, $explain:literal, $example:literal); )*) => {
        $( pub static $konst: RuleDef = RuleDef { id: $id, severity: Severity::$sev, group: Group::$grp, title: $title, explain: $explain, example: $example }; )*
        /// Every rule, in a fixed order (the front end registers them by index).
        pub static RULES: &[&RuleDef] = &[ $( &$konst, )* ];
    };
}

rules! {
    TRANSPORT_SYN_UNANSWERED = ("transport.syn_unanswered", Error, Sequence,
        "SYNs to an SMB port retransmitted with no answer",
        "The client sent a SYN to port 445 (or 139) and retransmitted it with no SYN/ACK and no RST. Raised on the third SYN (the evidence is conclusive: two retransmissions), or on the client's next connection attempt to the same server when it gave up after fewer; related frames are the SYNs. Likely cause: a firewall silently drops SMB (on Windows, the Public network profile blocks inbound SMB off the domain network), or the host is down or unreachable. Next check: `Test-NetConnection <server> -CommonTCPPort SMB` from the client, `Get-NetConnectionProfile` and the File and Printer Sharing firewall rules on the server.",
        "tests/captures/lab/port_blocked.pcap");
    PATH_SYN_DROPPED = ("path.syn_dropped", Error, Sequence,
        "SYNs to an SMB port lost between two capture points",
        "In a capture merged from the client's side and the server's (two interfaces, or one whose two sides a router's Ethernet addresses tell apart), the client's SYNs to port 445 (or 139) left the client and none reached the server's side. Raised on the third SYN at the client's side; related frames are the SYNs. Likely cause: a network firewall or router ACL on the path drops SMB; the server never saw the attempts. Next check: the firewalls and ACLs between the two capture points, `Test-NetConnection <server> -Port 445`, a traceroute. The client's side is the interface whose packets from the client carry the higher TTL, or the one the client_interface preference names; with both sides in one interface, the Ethernet segment where they do, provided each packet's copies lie more than 10 ms apart (copies made on one host lie microseconds apart and are never two sides).",
        "tests/captures/lab/two_sided/two_blocked_on_path.pcapng");
    PATH_SYN_IGNORED_BY_SERVER = ("path.syn_ignored_by_server", Error, Sequence,
        "SYNs reached the server, which never answered",
        "In a capture merged from the client's side and the server's, the client's SYNs to port 445 (or 139) reached the server's side and the server sent neither SYN/ACK nor RST. Raised on the third SYN at the client's side; related frames are the SYNs at both sides. Likely cause: the server's own host firewall (on Windows, the Public network profile blocks File and Printer Sharing). Next check on the server: `Get-NetConnectionProfile`, the File and Printer Sharing firewall rules, iptables/nftables INPUT.",
        "tests/captures/lab/two_sided/two_blocked_by_server.pcapng");
    PATH_RESET_FORGED = ("path.reset_forged", Error, Sequence,
        "RST the server never sent",
        "In a capture merged from the client's side and the server's, the client received a TCP RST in the server's name answering a SYN that never reached the server's side: the server cannot have sent it. Raised on the RST; related frames are the SYNs and the RST. Likely cause: a firewall or IPS between the capture points rejects SMB with a reset (transport.connection_refused's single-view reading, a stopped service, does not apply and is not raised). Next check: the reject rules of the firewalls and IPS on the path.",
        "tests/captures/lab/two_sided/two_reset_on_path.pcapng");
    PATH_LOSS = ("path.loss", Warn, Sequence,
        "Data segments lost between the two capture points",
        "In a capture merged from the client's side and the server's, data segments seen leaving one end never showed up at the other side's capture. Raised when 3 of one direction's segments went missing on a connection; related frames are the lost segments at the sender's side. Says which direction, and when the same bytes were lost again and again while others passed (a request that never arrives: a content filter or IPS, not random loss). Likely cause: a router, switch or link between the capture points dropping packets. Next check: error and drop counters of the devices on that stretch, and their filtering rules.",
        "tests/captures/lab/two_sided/two_loss_on_path.pcapng");
    PATH_ACK_LOST = ("path.ack_lost", Warn, Sequence,
        "ACKs lost on the way back: data sent again that had arrived",
        "In a capture merged from the client's side and the server's, one end sent a data segment again although the other side's capture shows it arrived the first time, and the receiver's ACKs for it never reached the sender's side. Raised once the ACKs had time to arrive (200 ms after the retransmission, the clocks' offset allowed for), once per connection and direction; related frames: the first transmission at both sides, the ACKs lost and the retransmission. Says which direction lost the ACKs. Likely cause: a router, link or firewall between the capture points dropping packets towards the sender (often bare ACKs only: an asymmetric route, a stateful firewall that lost the connection). Next check: drop counters and filtering rules on the way back, and whether that path is the same as the way there.",
        "tests/captures/lab/two_sided/two_ack_lost.pcapng");
    PATH_SERVER_SLOW = ("path.server_slow", Warn, Sequence,
        "Slow response: the time is spent in the server",
        "In a capture merged from the client's side and the server's, a response came at least the slow-response threshold (preference, default 1 s) after its request at the client's side, and most of that wait lay between the request's arrival and the response's departure at the server's side. Raised on the response's copy seen last (at the client's side unless its clock is behind), once per connection; related frames: the request and the response at both sides. The finding gives the command and both parts of the wait. Likely cause: the server itself (disk, CPU, a share script, name resolution, a filter driver), not the network. Next check: the server's disk latency and CPU, its SMB log around that time.",
        "tests/captures/lab/two_sided/two_slow_server.pcapng");
    PATH_NETWORK_SLOW = ("path.network_slow", Warn, Sequence,
        "Slow response: the time is spent on the network",
        "In a capture merged from the client's side and the server's, a response came at least the slow-response threshold after its request at the client's side, and most of that wait lay between the two capture points: the server answered promptly once the request reached it. Raised on the response's copy seen last (at the client's side unless its clock is behind), once per connection; related frames: the request and the response at both sides. The finding gives the command, both parts of the wait and the one-way delay between the points. Likely cause: a long or congested path (WAN link, VPN, shaping or a device queueing packets), not the server. Next check: the round-trip time on that path (ping, traceroute), the link's load and the queues of the devices on it.",
        "tests/captures/lab/two_sided/two_delay_on_path.pcapng");
    TRANSPORT_CONNECTION_REFUSED = ("transport.connection_refused", Error, Sequence,
        "SYN to an SMB port answered by RST",
        "The server answered the client's SYN to port 445 (or 139) with a TCP RST: the host is up but nothing accepts connections there. Raised on the RST; related frames are the SYNs. Likely cause: the Server service (LanmanServer) or smbd is stopped, SMB listens on another port, or a firewall rejects. Next check: `Get-Service LanmanServer` or `systemctl status smbd` on the server, `Test-NetConnection <server> -Port 445`.",
        "tests/captures/lab/port_closed.pcap");
    NEGOTIATE_REJECTED = ("negotiate.rejected", Error, Protocol,
        "The server would not agree on an SMB dialect",
        "The client's NEGOTIATE was answered by a TCP RST, a TCP FIN, an error status (STATUS_NOT_SUPPORTED from Samba) or an SMB1 response selecting no dialect. The finding names the dialects offered and the answer; related frame: the NEGOTIATE request. Likely cause: SMB2/3 disabled on the server (SMB3 is a dialect of SMB2: `EnableSMB2Protocol = False` disables SMB3 too), a server minimum protocol above the client's maximum, or an SMB1-only client against a server without SMB1. Next check: `Get-SmbServerConfiguration | Select EnableSMB1Protocol, EnableSMB2Protocol` on the server, `server min protocol` in smb.conf, the client's maximum protocol.",
        "tests/captures/lab/dialect_rejected.pcap (SMB1-only: tests/captures/lab/smb1_only_client.pcap)");
    TRANSPORT_PACKET_LOSS = ("transport.packet_loss", Warn, Sequence,
        "SMB connection losing TCP segments",
        "Retransmissions in one direction of an SMB connection reached at least 3 and 0.5% of that direction's data segments (preference `smbdiag.loss_rate_permille`, default 5). The finding says which direction loses (the sender of the retransmissions), the counts and rate so far, the duplicate ACKs of the receiver, and how long retransmitted segments waited (time from the original send to the retransmission, summed); related frames are the first retransmissions. Raised once per connection, when the threshold is crossed. Likely cause: a faulty or overloaded link, switch port, NIC or Wi-Fi; per-file round trips make transfers of many small files suffer most. Next check: error and drop counters along the path (`Get-NetAdapterStatistics`, `ethtool -S`, switch ports), duplex settings.",
        "tests/captures/lab/small_files_loss.pcap");
    TRANSPORT_ZERO_WINDOW = ("transport.zero_window", Warn, Sequence,
        "SMB connection stalled by a zero TCP window",
        "One side of an SMB connection advertised a zero receive window for at least 50 ms; raised when the window reopens, with the duration. Likely cause: the receiving host cannot keep up (slow storage, CPU, filter drivers), not the network. Next check: disk latency and CPU on the host that advertised the zero window.",
        "tests/captures/lab/server_zero_window.pcap");
    TRANSPORT_RESET_MID_SESSION = ("transport.reset_mid_session", Warn, Sequence,
        "SMB connection reset with requests unanswered",
        "A TCP RST ended an SMB connection while requests were still waiting for their responses. The finding names who reset it and the outstanding requests (related frames). Likely cause: from the server, smbd or the Server service restarted or crashed, or a middlebox cut the connection; from the client, an application or session timeout. Next check: the server's SMBServer event logs or log.smbd at that time, and firewalls, IPS or load balancers in the path.",
        "tests/captures/lab/rst_mid_session.pcap");
    TRANSPORT_CLOSED_WITH_PENDING = ("transport.closed_with_pending", Warn, Sequence,
        "SMB connection closed with requests unanswered",
        "A TCP FIN closed an SMB connection while requests were still waiting for their responses. The finding names who closed it and the outstanding requests (related frames). Likely cause: the client gave up on a slow server (request timeout), or the server ended the session. Next check: the response times of the requests before, the server's logs, the client's SMBClient event logs.",
        "tests/captures/lab/client_gives_up.pcap");
    PERF_SLOW_RESPONSE = ("perf.slow_response", Warn, Sequence,
        "SMB response far slower than usual",
        "A final response came at least the slow-response threshold (preference, default 1 s) after its request, or at least 200 ms and 20 times that command's median on the same connection (with 8 or more samples). The clock stops at the final response, not at a STATUS_PENDING interim one; CHANGE_NOTIFY, LOCK, OPLOCK_BREAK, ECHO, CANCEL and named-pipe traffic on IPC$ wait by design and are left out. The finding gives the command, file or share, the time, the usual time and the network round trip from the TCP handshake, so server time is told apart from network time; related frame: the request. Next check: the server's disk latency and CPU, filter drivers (`fltmc`), and oplock/lease breaks to other clients.",
        "tests/captures/lab/slow_response.pcap");
    PERF_UNANSWERED = ("perf.unanswered", Warn, Sequence,
        "SMB request never answered while the connection carried on",
        "A request had no response for longer than the unanswered threshold (10 s) while the server answered later requests on the same connection; raised on the response that makes it conclusive, related frame: the request. Requests that wait by design (CHANGE_NOTIFY, LOCK, OPLOCK_BREAK, ECHO, CANCEL, named pipes) are left out, and a capture that simply ends is not evidence. When the server acknowledged the request with an interim STATUS_PENDING it has it and is blocked on it; for a CREATE, an oplock/lease break the server sent another client after the request (and that client has not acknowledged) is named as the likely holder (related frames: the request, the interim or the break). Otherwise likely cause: the server lost or is stuck on that request (hung filter driver, blocked backend). Next check: the server's open handles (Get-SmbOpenFile, smbstatus), its SMB operational log or log.smbd, and whether the client cancels and retries. Encrypted answers cannot be matched, so requests outstanding when the server sends one are not judged.",
        "tests/captures/lab/unanswered_open.pcap");
    TREE_SHARE_NOT_FOUND = ("tree.share_not_found", Warn, ResponseCode,
        "Share not found (STATUS_BAD_NETWORK_NAME)",
        "A TREE_CONNECT was answered STATUS_BAD_NETWORK_NAME: the server has no share of that name (MS-SMB2 3.3.5.7). The finding names the share and server; repeated attempts at the same share from the same client (a mapped drive retrying) are each a finding, with the earlier attempts as related frames. Likely cause: the folder was un-shared or renamed, a typo, or the wrong server. Next check: `Get-SmbShare` on the server (`net share`; `testparm -s` on Samba), the drive mappings and scripts that use the path.",
        "tests/captures/lab/share_not_found.pcap");
    TREE_ACCESS_DENIED = ("tree.access_denied", Error, ResponseCode,
        "Access to the share denied (TREE_CONNECT STATUS_ACCESS_DENIED)",
        "A TREE_CONNECT was answered STATUS_ACCESS_DENIED: the user authenticated but the share does not admit them. The finding names the share and the user, and says when the connection's dialect cannot encrypt (a share requiring encryption refuses such clients). Next check: `Get-SmbShareAccess -Name <share>` (`valid users` on Samba), the user's groups, `Get-SmbShare | Select EncryptData`.",
        "tests/captures/lab/share_access_denied.pcap");
    SESSION_LOGON_FAILURE = ("session.logon_failure", Error, Security,
        "Logon failed: wrong user name or password",
        "A SESSION_SETUP was answered STATUS_LOGON_FAILURE, STATUS_NO_SUCH_USER or STATUS_WRONG_PASSWORD. The finding names the account and the authentication (NTLM/Kerberos). Likely cause: a mistyped or changed password, a stale saved credential or mapped drive, the wrong domain prefix. Next check: the account and password, `cmdkey /list` on the client, event 4625 on the server or DC.",
        "tests/captures/lab/wrong_password.pcap");
    SESSION_ACCOUNT_LOCKED = ("session.account_locked", Error, Security,
        "Logon failed: account locked out",
        "A SESSION_SETUP was answered STATUS_ACCOUNT_LOCKED_OUT. Likely cause: too many bad passwords, often a stale saved credential or a mapped drive retrying with an old password. Next check: unlock the account (Unlock-ADAccount), find the source of the bad attempts (event 4740 on the PDC emulator), clear stale credentials.",
        "tests/captures/lab/account_locked.pcap");
    SESSION_ACCOUNT_DISABLED = ("session.account_disabled", Error, Security,
        "Logon failed: account disabled or expired",
        "A SESSION_SETUP was answered STATUS_ACCOUNT_DISABLED or STATUS_ACCOUNT_EXPIRED. Next check: the account in Active Directory (Get-ADUser -Properties Enabled, AccountExpirationDate) or the local SAM (`pdbedit -v` on Samba).",
        "tests/captures/lab/account_disabled.pcap");
    SESSION_PASSWORD_EXPIRED = ("session.password_expired", Error, Security,
        "Logon failed: password expired or must change",
        "A SESSION_SETUP was answered STATUS_PASSWORD_EXPIRED or STATUS_PASSWORD_MUST_CHANGE: a network logon cannot change the password. Next check: change the password interactively, the domain's password policy (Get-ADUser -Properties PasswordLastSet, PasswordExpired).",
        "tests/captures/lab/password_must_change.pcap");
    SESSION_LOGON_RESTRICTED = ("session.logon_restricted", Error, Security,
        "Logon failed: account restrictions",
        "A SESSION_SETUP was answered STATUS_INVALID_LOGON_HOURS, STATUS_INVALID_WORKSTATION, STATUS_ACCOUNT_RESTRICTION or STATUS_LOGON_TYPE_NOT_GRANTED: the account may not log on at this time, from this computer, with a blank password, or over the network. Next check: the account's logon hours and workstations, and the server's \"Access this computer from the network\" / \"Deny access\" user rights (secpol.msc, GPO).",
        "tests/captures/lab/workstation_restricted.pcap");
    SESSION_NO_TRUST = ("session.no_trust", Error, Security,
        "Logon failed: the server cannot reach or trust a domain controller",
        "A SESSION_SETUP was answered STATUS_NO_LOGON_SERVERS, STATUS_TRUSTED_RELATIONSHIP_FAILURE, STATUS_TRUSTED_DOMAIN_FAILURE or STATUS_TIME_DIFFERENCE_AT_DC: the server could not validate the logon with its domain. When the account names its domain (DOMAIN\\user), the finding names it: a logon for another domain's account goes through a trust, checked with `nltest /dsgetdc:<domain>` and `nltest /sc_query:<domain>` on the server. Next check: the server's secure channel (Test-ComputerSecureChannel, nltest /sc_verify), DC reachability and time synchronisation (w32tm).",
        "tests/captures/lab/trust_no_logon_servers.pcap");
    SESSION_ACCESS_DENIED = ("session.access_denied", Error, Security,
        "Session setup refused (STATUS_ACCESS_DENIED)",
        "A SESSION_SETUP was answered STATUS_ACCESS_DENIED and the name the client used matches the server's own (else `session.alias_rejected`). The finding says when the connection's dialect cannot encrypt, since a server requiring encryption refuses such clients at session setup (MS-SMB2 3.3.5.5); other causes are refused guest or anonymous logons. Next check: the server's encryption settings, its security event log (4625) and SMBServer log.",
        "tests/captures/lab/encryption_old_client.pcap");
    SESSION_ALIAS_REJECTED = ("session.alias_rejected", Error, Security,
        "Session setup refused: the client used an alias of the server",
        "A SESSION_SETUP was answered STATUS_ACCESS_DENIED and the name the client addressed (NTLM MsvAvTargetName, Kerberos SPN) is not one of the server's own names (NetBIOS and DNS computer names from its NTLM CHALLENGE). The seed article's case: a DNS CNAME alias, Kerberos failing for want of an SPN for the alias, NTLM fallback, and strict name checking refusing the alias. When the capture holds the client's exchange with the KDC (port 88), the finding quotes the KDC's refusal (e.g. KDC_ERR_S_PRINCIPAL_UNKNOWN for cifs/<alias>) and adds those frames. Fix: use the server's real name, or register the alias (`setspn -S cifs/<alias> <server>`, `netdom computername <server> /add:<alias>`) or set DisableStrictNameChecking.",
        "tests/captures/edited/alias_rejected_kerberos.pcap, tests/captures/edited/alias_rejected.pcap");
    SESSION_NTLM_FALLBACK = ("session.ntlm_fallback", Note, Security,
        "NTLM used where Kerberos was on offer",
        "A session authenticated (or failed to) with NTLM although Kerberos was on offer (the server's NEGOTIATE or the client's SPNEGO list names it): the client could not get a Kerberos ticket for the name it used. When the capture holds the client's exchange with its KDC (port 88, TCP or UDP), the finding gives the KDC's answer: the KRB-ERRORs sent to the same client address (and account, when the error names one) within 30 s before the session's first SESSION_SETUP, for a ticket to the name the session used (NTLM MsvAvTargetName or the trees' server name) or for the client's own TGT, and not followed by a ticket for that service. It names each error code with its meaning (e.g. KDC_ERR_S_PRINCIPAL_UNKNOWN: no account has that SPN, the alias case; KRB_AP_ERR_SKEW: clock skew; KDC_ERR_PREAUTH_FAILED: wrong password; KDC_ERR_C_PRINCIPAL_UNKNOWN, KDC_ERR_CLIENT_REVOKED, KDC_ERR_ETYPE_NOSUPP...; unknown codes by number), the SPN and the error frames (related frames), which also rules out an unreachable KDC; KDC_ERR_PREAUTH_REQUIRED and KRB_ERR_RESPONSE_TOO_BIG are routine steps, never evidence. Without KDC traffic it names the likely reason: an IP address (no SPN exists for it by default), an alias such as a DNS CNAME (no SPN registered for it), or a missing SPN or unreachable KDC. Raised once per session, on the SESSION_SETUP response. Next check: for a KDC error, the check for that code (e.g. `setspn -Q cifs/<name>`); else connect by the server's real DNS name, `setspn -Q cifs/<name>`, `klist get cifs/<name>` on the client.",
        "tests/captures/lab/kerberos_ntlm_fallback.pcap (frame 48, KDC errors in frames 27 and 39; without KDC traffic: OISF-suricata-verify/smb2-ntlmssp-order__smb2.pcap)");
    SESSION_KERBEROS_FAILED = ("session.kerberos_failed", Error, Security,
        "No logon: the KDC refused the client a ticket and the client gave up",
        "An SMB connection ended (TCP FIN or RST, from either side) after a successful NEGOTIATE without the client ever sending a SESSION_SETUP, and within 30 s before the end, after that NEGOTIATE, the KDC (port 88, TCP or UDP) refused the same client address a ticket to a cifs/ service: a KRB-ERROR other than the routine KDC_ERR_PREAUTH_REQUIRED and KRB_ERR_RESPONSE_TOO_BIG, for the name the client used for the server when its SMB 3.1.1 NEGOTIATE names it (NETNAME context), and not followed by a ticket for that service. The client could not get a Kerberos ticket and did not fall back to NTLM (it requires Kerberos, NTLM is restricted, or it takes the error as final), so the user sees a logon or access error with no SMB error in the capture. Raised on the connection's first FIN or RST; a capture that simply ends is not evidence. The finding names who ended the connection, the KDC's error codes with their meaning (e.g. KRB_AP_ERR_SKEW: the client's clock is off by more than the allowed skew, 5 minutes by default; KDC_ERR_S_PRINCIPAL_UNKNOWN: no account has that SPN; KDC_ERR_ETYPE_NOSUPP: no common encryption type), the SPN and the error frames; related frames: the NEGOTIATE request and the KDC errors. Next check: the check for that code (for clock skew, time synchronisation of client and DC: `w32tm /query /status`, `timedatectl`, `chronyc tracking`), then `klist get cifs/<name>` on the client.",
        "tests/captures/lab/kerberos_clock_skew_kdc.pcap (frame 42, KDC errors in frames 27 and 39)");
    SESSION_EXPIRED = ("session.expired", Note, Security,
        "Session expired (STATUS_NETWORK_SESSION_EXPIRED)",
        "A request was answered STATUS_NETWORK_SESSION_EXPIRED: the session outlived its Kerberos ticket; the client should re-authenticate with a new SESSION_SETUP on the same session id. The finding names the session (user, or the ticket's service name for Kerberos), how long after its logon it expired (about the ticket lifetime; the logon frame is a related frame) and counts expiries of the same session: normal once, a loop means short-lived tickets. Next check: that a SESSION_SETUP follows (the finding gives the filter), `klist` on the client, the KDC's ticket lifetime policy.",
        "tests/captures/lab/kerberos_session_expired.pcap");
    SESSION_DELETED = ("session.deleted", Warn, Security,
        "Session unknown to the server (STATUS_USER_SESSION_DELETED)",
        "A request was answered STATUS_USER_SESSION_DELETED: the server no longer knows the session (restart, failover, logoff, idle autodisconnect) and the client kept using it. When the capture shows the client's own LOGOFF of that session, the finding says so (a client bug; related frame: the LOGOFF). Next check: the server's event logs for restarts at that time, Get-SmbServerConfiguration AutoDisconnectTimeout.",
        "tests/captures/lab/session_deleted.pcap");
    CREATE_NOT_FOUND = ("create.not_found", Note, ResponseCode,
        "File or folder the user asked for not found",
        "A CREATE that asked to read, write or run a file was answered STATUS_OBJECT_NAME_NOT_FOUND or STATUS_OBJECT_PATH_NOT_FOUND. Probes are left out: clients look for desktop.ini, autorun.inf, thumbs.db, `~$` lock files, streams and macOS metadata in every folder, and open files only to read their attributes. Next check: the path the application uses and whether the file exists on the server.",
        "tests/captures/lab/file_not_found.pcap");
    CREATE_ACCESS_DENIED = ("create.access_denied", Warn, ResponseCode,
        "Opening a file denied (CREATE STATUS_ACCESS_DENIED)",
        "A CREATE was answered STATUS_ACCESS_DENIED: the share admitted the user but the file system refuses the access asked (the finding gives the desired access mask). Likely cause: NTFS (or Unix) permissions, a read-only share or file. Next check: `icacls` / Get-Acl on the path, the share's read-only setting.",
        "tests/captures/lab/file_access_denied.pcap");
    CREATE_SHARING_VIOLATION = ("create.sharing_violation", Warn, ResponseCode,
        "File in use (STATUS_SHARING_VIOLATION)",
        "A CREATE was answered STATUS_SHARING_VIOLATION: another open holds the file with an incompatible share mode. When that open is in the capture, its CREATE is a related frame. Next check: `Get-SmbOpenFile` on the server (`smbstatus -L` on Samba) to find who holds the file.",
        "tests/captures/lab/sharing_violation.pcap");
    CREATE_DELETE_PENDING = ("create.delete_pending", Warn, ResponseCode,
        "File is being deleted (STATUS_DELETE_PENDING)",
        "A CREATE was answered STATUS_DELETE_PENDING: the file is marked for deletion and an open handle keeps it alive. Next check: `Get-SmbOpenFile` (smbstatus) for the handle still open; antivirus and indexers often hold one.",
        "tests/captures/lab/delete_pending.pcap");
    CREATE_PATH_NOT_COVERED = ("create.path_not_covered", Note, ResponseCode,
        "DFS: the path lives on another server (STATUS_PATH_NOT_COVERED)",
        "A CREATE was answered STATUS_PATH_NOT_COVERED: the path is a DFS link; the client must ask for a referral and follow it. Next check: the referral that follows, `dfsutil diag viewdfspath <path>`, the namespace's targets.",
        "tests/captures/lab/dfs_link.pcap");
    CREATE_DURABLE_HANDLE_LOST = ("create.durable_handle_lost", Warn, ResponseCode,
        "Durable handle could not be reconnected",
        "A CREATE reconnecting a durable handle (DHnC/DH2C context) was answered STATUS_OBJECT_NAME_NOT_FOUND: the server no longer holds the handle (MS-SMB2 3.3.5.9.7, 3.3.5.9.12), so the open's state is lost. When the capture holds the CREATE response that granted the handle (DHnQ/DH2Q), the finding gives its frame and timeout and whether the reconnect came within it (then the server lost the state: restart or failover) or later. Next check: server restarts or failover at that time, the share's ContinuouslyAvailable setting.",
        "tests/captures/lab/durable_handle_lost.pcap");
    STATUS_ERROR = ("status.error", Note, ResponseCode,
        "SMB error status without a specific diagnosis",
        "A response carried an error status that is not routine and has no more specific rule; the finding explains the status and the next check where smbdiag knows it (e.g. STATUS_DISK_FULL, STATUS_NETWORK_NAME_DELETED, STATUS_FILE_CLOSED), else points to MS-ERREF.",
        "zeek-zeek/smb_many_open_files_500.pcap (IOCTL answered STATUS_INTERNAL_ERROR)");
    SECURITY_SMB1 = ("security.smb1", Note, Security,
        "SMB1 offered or in use",
        "The client offered SMB1 dialects (\"NT LM 0.12\"...) in an SMB1 NEGOTIATE, once per connection; or the server accepted SMB1. SMB1 is deprecated and off by default on current Windows. Next check: disable SMB1 (`Disable-WindowsOptionalFeature -Online -FeatureName SMB1Protocol`, `Set-SmbServerConfiguration -EnableSMB1Protocol $false`; `client/server min protocol = SMB2_02` on Samba).",
        "tests/captures/lab/smb1_only_client.pcap");
    SECURITY_GUEST_SESSION = ("security.guest_session", Warn, Security,
        "Guest logon accepted",
        "A SESSION_SETUP succeeded with SMB2_SESSION_FLAG_IS_GUEST: the server mapped the client to guest (often an unknown user under `map to guest = bad user`). Guest sessions cannot sign, and current Windows clients refuse insecure guest logons (AllowInsecureGuestAuth), so the same access fails there. Next check: give the client an account; review `map to guest` / `guest ok` on Samba.",
        "tests/captures/lab/guest_access.pcap");
    SECURITY_NULL_SESSION = ("security.null_session", Note, Security,
        "Anonymous (null) session accepted",
        "A SESSION_SETUP with an anonymous NTLM logon (or SMB2_SESSION_FLAG_IS_NULL) succeeded. Next check: RestrictAnonymous / RestrictNullSessAccess on Windows, `restrict anonymous = 2` on Samba.",
        "OISF-suricata-verify/smb2-async-read__input.pcap");
    SECURITY_NTLMV1 = ("security.ntlmv1", Warn, Security,
        "NTLMv1 logon",
        "A session authenticated with an NTLMv1 response (24-byte NT response). NTLMv1 can be cracked or relayed. Next check: LmCompatibilityLevel 5 (\"Send NTLMv2 response only. Refuse LM & NTLM\"), and the client still sending NTLMv1.",
        "tests/captures/lab/ntlmv1.pcap");
    SECURITY_UNSIGNED_SESSION = ("security.unsigned_session", Note, Security,
        "Authenticated session runs unsigned",
        "After a successful, non-guest, non-anonymous logon, a request of the session (other than TREE_CONNECT, which SMB 3.1.1 always signs) was not signed: neither side requires signing. Raised once per session. Next check: require signing (`RequireSecuritySignature`; `server signing = mandatory` on Samba) or use encryption.",
        "tests/captures/lab/healthy.pcap");
    SECURITY_NO_ENCRYPTION = ("security.no_encryption", Warn, Security,
        "Share asks for encryption but traffic is plain",
        "A TREE_CONNECT response set SMB2_SHAREFLAG_ENCRYPT_DATA, yet a later request on that tree travelled unencrypted: the server accepts unencrypted access, and the client either cannot encrypt (a dialect below SMB 3.0) or ignores the request (an SMB 3 dialect: the finding says which). Raised once per tree. Next check: the client's dialect and SMB settings, `Get-SmbServerConfiguration | Select EncryptData, RejectUnencryptedAccess` (Samba: `smb encrypt`).",
        "tests/captures/lab/plain_on_encrypted_share.pcap");
    PERF_SMALL_FILES = ("perf.small_files", Note, Sequence,
        "Transfer dominated by per-file round trips (many small files)",
        "On one connection, at least 50 files moved data with under 64 KiB per file on average, and the time spent waiting on per-file operations (CREATE, QUERY_INFO, CLOSE, QUERY_DIRECTORY, SET_INFO) exceeded the time in READ/WRITE. Raised once per connection, when the evidence is in; the finding gives bytes per file, the share of time per kind and the most requests the client kept in flight (one at a time is the tell), related frame: the first CREATE. Per-file round trips set the speed, so latency and loss multiply. Next check: parallel copies (`robocopy /MT`), archiving before copying, loss or latency on the path.",
        "tests/captures/lab/small_files_clean.pcap");
    PERF_LEASE_BREAK_WAIT = ("perf.lease_break_wait", Warn, Sequence,
        "An open waited behind an oplock/lease break to another client",
        "A CREATE took 1 s or more and, while it waited, the same server sent an oplock or lease break notification to another connection: the open was held until the holder gave up its cached access. The finding names the file, the wait, the client that held the file, the break frame and the acknowledgement (or its absence: then the server waited for its break timeout, about 35 s); related frames: the CREATE request, the break and the acknowledgement. Raised instead of perf.slow_response. Next check: the application holding the file on that client (`Get-SmbOpenFile`, `smbstatus -L`), and turning oplocks/leases off for the share if its clients cannot answer breaks.",
        "tests/captures/lab/oplock_break_wait.pcap");
    PERF_CREDIT_STARVATION = ("perf.credit_starvation", Warn, Sequence,
        "Transfer held back by the server's credit limit",
        "SMB2 credits (MS-SMB2 3.3.1.2) decide how many requests a client may have in flight: each request spends credits (its CreditCharge, one per 64 KiB), the server grants them back in its responses. smbdiag keeps each connection's books from its NEGOTIATE (the client starts with one credit; a capture that starts later, a request beyond the credits granted, or encrypted responses end the books). A stall: a READ or WRITE left the client fewer credits than that request needed, the response that gave them back granted less than its request asked for, and the client's next request was again a READ or WRITE, which could only leave after that grant (a client that asks for no more credits than it gets paces itself, and is left out). Raised once per connection, on the READ/WRITE request of the 8th stall at the same limit, when that limit (the credits the client held and had in flight) is at most 64 credits (4 MiB); a limit still rising is the server ramping up, and counting starts over. The finding gives the limit, the credits the client asked for, how many requests were in flight, the data moved and the time spent waiting for grants; related frames: the first and latest request that spent the credits and the responses that gave them back. Likely cause: the server caps credits (Samba `smb2 max credits`, Windows Smb2CreditsMin/Smb2CreditsMax, or a NAS or proxy granting few), so on any latency each round trip carries at most the limit times 64 KiB. Next check: the server's credit settings (`Get-SmbServerConfiguration | Select Smb2Credits*`, `testparm -sv | grep 'smb2 max credits'`), and the round trip between client and server.",
        "tests/captures/lab/credit_starvation.pcap");
    DECODE_STATE_LIMIT = ("decode.state_limit", Note, Undecoded,
        "smbdiag dropped state to stay within its memory bounds",
        "One of smbdiag's bounded tables refused or dropped an entry: TCP connections (100,000), SMB sessions, tree connects and open files, requests awaiting a response on a connection, port-88 streams and KDC answers, or a rule family's own memory (sessions it has reported, oplock breaks, files counted...); or, with decryption keys given, an encrypted message larger than the 8 MiB + 64 KiB kept of one (once per connection). Raised once per table (requests awaiting a response: once per connection), on the frame of the first refusal; the note names the table, its bound, the frame from which on, and what is missing from there: names not shown, or a rule that no longer judges. Next check: filter the capture to the hosts of interest (`tshark -r in.pcap -w out.pcap -Y \"ip.addr == ...\"`) before opening it.",
        "generated in the test suite (dissector/tests/limits.rs)");
    DECODE_TRUNCATED = ("decode.truncated", Note, Malformed,
        "SMB message cut short by the capture (snaplen or missing segments)",
        "An SMB PDU whose NBSS length announces more bytes than the capture holds: a short snaplen or segments the capture missed. Only the part present is decoded, so fields past the cut are absent rather than wrong. Next check: capture with a full snaplen (`tcpdump -s 0`, or `-s 0` in dumpcap) and a large buffer.",
        "OISF-suricata-verify/smb2-frames-gap-payload-logging__smb2-peter-minus-p191.pcap");
    DECODE_RESYNC = ("decode.resync", Note, Undecoded,
        "Bytes missing from the capture; SMB decoding resumed at the next header",
        "Part of a TCP stream is missing from the capture (the capture started mid-connection or dropped packets), so smbdiag skipped to the next SMB header instead of decoding the wrong bytes. Messages in the skipped bytes are not shown, so their responses have no request. Next check: capture from before the connection opens, with a large capture buffer.",
        "OISF-suricata-verify/smb3-02-midstream__input.pcap");
    DECODE_SKIPPED = ("decode.skipped_frames", Note, Undecoded,
        "Frames whose layers smbdiag does not decode were skipped",
        "smbdiag opens Ethernet (VLAN and Q-in-Q tags), Linux cooked v1/v2, raw IP, loopback and Network Monitor NDIS event frames, IPv4/IPv6 with extension headers and fragments, GRE, ERSPAN II/III, VXLAN and IP-in-IP. Frames with other layers (another link type, MPLS, PPPoE, MACsec, IPsec ESP, 802.11, fragments that never completed, malformed headers) are skipped: one note per capture, on the first such frame, lists each kind with its count and first frame (the count grows as the capture is read: the GUI and `tshark -2` show the final one). SMB inside skipped frames is not analysed, so findings may be missing, never wrong. Next check: Wireshark's own dissectors for those frames; capture where the traffic is not encapsulated.",
        "tests/captures/edited/share_not_found_unknown_link.pcap (tests/netdecode.rs)");
    DECODE_ENCRYPTED = ("decode.encrypted", Note, Undecoded,
        "Encrypted SMB3 session: its messages are hidden without its key",
        "A session's messages travel encrypted (SMB3 TRANSFORM_HEADER) and smbdiag has no key for it, so the rules cannot see its tree connects, opens, statuses or response times. Raised once per session and connection, on its first encrypted message; the note names the session id, user, dialect and cipher; each hidden message is numbered in its `smbdiag.encrypted` item, and `-z smbdiag,summary` counts the encrypted PDUs per connection. Next check: give the session key: Wireshark's Protocols → SMB2 → Secret session keys for decryption (smbdiag reads that table), or the preference `smbdiag.session_keys` (`session id,session key`, session id as 16 hex digits in wire order as Wireshark takes it, or 0x and the number); Samba logs the key with `debug encryption = yes`, Windows tools such as mimikatz or a kernel debugger can show it.",
        "tests/captures/public/zeek-zeek/smb3.pcap (without keys)");
    DECODE_NOT_DECOMPRESSED = ("decode.not_decompressed", Note, Undecoded,
        "A compressed SMB3 message did not decompress",
        "An SMB 3.1.1 message travelled compressed (COMPRESSION_TRANSFORM_HEADER) and smbdiag could not decompress it: an algorithm it does not decompress (LZ4, an unknown id), compressed data that ends early or breaks the algorithm's rules, a size other than the header claims, or more than 8 MiB + 64 KiB. The messages inside are not decoded, so the rules do not see them: findings about them may be missing, never wrong. Raised once per connection, on the first such message; the note names its algorithm and why; every compressed message's `smbdiag.compressed` item says how it was compressed and whether it was decompressed. Next check: Wireshark's SMB2 dissector on the frame (it decompresses the same algorithms), and whether the capture cut the message (snap length).",
        "tests/captures/edited/share_not_found_compressed_corrupt.pcap (tests/compressed.rs; an edited fixture: no capture here holds real compression)");
    DECODE_DECRYPT_FAILED = ("decode.decrypt_failed", Note, Undecoded,
        "The key given for an encrypted session does not decrypt it",
        "A key was given for the session but its encrypted messages fail authentication (the AES-CCM/GCM tag does not match): the key belongs to another session or capture, a 3.1.1 session's setup is missing from the capture (its keys depend on a hash of that exchange), or the server-to-client and client-to-server keys are swapped. Also raised when the password given does not match the session's NTLMv2 logon, or when the keytab given does not open the Kerberos ticket of its logon (no key of the ticket's encryption type, or none that passes its checksum: the keytab of another account or another key version). No message is decoded from such bytes, so nothing is guessed. Raised once per session and connection. Next check: the session id and key (the key printed for this session, 16 bytes for AES-128, the full 32 for AES-256), and that the capture holds the NEGOTIATE and SESSION_SETUP of a 3.1.1 connection; for a keytab, the server account's keys and versions (`klist -k -e`).",
        "tests/decrypt.rs (a wrong key on tests/captures/public/zeek-zeek/smb3.pcap); tests/keytab.rs (the user's keytab instead of the server's on tests/captures/lab/kerberos_encrypted_share_not_found.pcap)");
}

/// Look a rule up by id.
pub fn by_id(id: &str) -> Option<&'static RuleDef> {
    RULES.iter().copied().find(|r| r.id == id)
}

impl RuleDef {
    /// The rule's family: the part of its id before the dot (a preference
    /// switches a family off).
    pub fn family(&self) -> &'static str {
        self.id.split_once('.').map_or(self.id, |(f, _)| f)
    }
}

/// Every rule family, in the order of first appearance in `RULES`: a new
/// family exists (and gets its preference) by adding its first rule.
pub fn families() -> Vec<&'static str> {
    let mut v: Vec<&'static str> = Vec::new();
    for r in RULES {
        if !v.contains(&r.family()) {
            v.push(r.family());
        }
    }
    v
}

/// Position of a rule in `RULES` (the front end's expert-item index).
pub fn index_of(rule: &RuleDef) -> usize {
    RULES.iter().position(|r| std::ptr::eq(*r, rule)).expect("rule in RULES")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn families_come_from_the_rule_ids() {
        let f = families();
        assert!(f.contains(&"transport") && f.contains(&"decode") && f.contains(&"session"));
        assert!(RULES.iter().all(|r| f.contains(&r.family())));
        let mut sorted = f.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(sorted.len(), f.len());
    }

    #[test]
    fn ids_unique_and_well_formed() {
        let mut seen = std::collections::HashSet::new();
        for r in RULES {
            assert!(seen.insert(r.id), "duplicate {}", r.id);
            assert!(r.id.split('.').count() == 2, "{} must be group.name", r.id);
            assert!(r.id.chars().all(|c| c.is_ascii_lowercase() || c == '.' || c == '_' || c.is_ascii_digit()));
        }
    }
}

impl Severity {
    pub fn name(self) -> &'static str {
        match self {
            Severity::Chat => "chat",
            Severity::Note => "note",
            Severity::Warn => "warning",
            Severity::Error => "error",
        }
    }
}

impl Group {
    pub fn name(self) -> &'static str {
        match self {
            Group::Sequence => "Sequence",
            Group::ResponseCode => "Response code",
            Group::Security => "Security",
            Group::Protocol => "Protocol",
            Group::Malformed => "Malformed",
            Group::Undecoded => "Undecoded",
            Group::Comment => "Comment",
        }
    }
}

/// docs/rules.md, generated from the table (`smbdiag-cli --rules-md`); a test
/// keeps the committed file equal to this.
pub fn markdown() -> String {
    let mut s = String::from(
        "# smbdiag rules\n\n\
         Generated from `dissector/src/rules/catalog.rs` by `cargo run -p smbdiag-core --bin smbdiag-cli -- --rules-md > docs/rules.md`;\n\
         a test fails when this file and the code differ. Each finding carries `smbdiag.rule` (the id below),\n\
         `smbdiag.finding` (the sentence) and `smbdiag.related_frame` (evidence frames), and raises the expert item\n\
         `smbdiag.<id>` with the severity and group shown. Filter with e.g. `smbdiag.rule == \"tree.share_not_found\"`\n\
         or `smbdiag.rule matches \"^session\"`.\n\n\
         | rule | severity | group | title |\n| --- | --- | --- | --- |\n",
    );
    for r in RULES {
        s.push_str(&format!("| [`{}`](#{}) | {} | {} | {} |\n", r.id, r.id.replace('.', ""), r.severity.name(), r.group.name(), r.title));
    }
    for r in RULES {
        s.push_str(&format!(
            "\n## {}\n\n*{}*, group {}: {}.\n\n{}\n\nExample: `{}`\n",
            r.id,
            r.severity.name(),
            r.group.name(),
            r.title,
            r.explain,
            r.example
        ));
    }
    s
}

#[cfg(test)]
mod doc_tests {
    #[test]
    fn docs_rules_md_matches_the_table() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/rules.md");
        let on_disk = std::fs::read_to_string(path).unwrap_or_default();
        assert!(
            on_disk == super::markdown(),
            "docs/rules.md is out of date: run `cargo run -p smbdiag-core --bin smbdiag-cli -- --rules-md > docs/rules.md`"
        );
    }
}
