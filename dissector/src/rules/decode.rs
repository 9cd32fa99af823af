//! decode.*: what the decoding itself has to say (bytes skipped, messages cut
//! short, encrypted sessions left hidden), phrased for the reader.
//! decode.state_limit comes from `limits`.

use super::catalog;
use crate::output::Finding;
use crate::kerberos::ap_exchange::MissCause;
use crate::kerberos::crypto::etype_name;
use crate::smb::crypto::tracker::Hidden;
use crate::smb::framing::MAX_RESYNC_NOTES;
use crate::smb::types::Dialect;
use crate::state::events::StateNote;

pub fn finding(note: StateNote) -> Finding {
    let (rule, text) = match note {
        StateNote::Resynced { skipped, ordinal } => {
            let mut text = if skipped > 0 {
                format!("{skipped} bytes of this TCP stream are missing from the capture or are not SMB; SMB decoding resumed at the next SMB header in this frame")
            } else {
                "SMB decoding resumed at an SMB header after bytes missing from the capture".to_string()
            };
            text.push_str(" (listed, but decoded only once the next header confirms the stream is back in step)");
            if ordinal == MAX_RESYNC_NOTES {
                text.push_str(&format!(
                    ". This is resynchronisation {ordinal} in this direction of the connection; later ones are not noted (the stream may not be SMB, or the capture lost much of it)"
                ));
            }
            (&catalog::DECODE_RESYNC, text)
        }
        StateNote::Truncated { offset, declared_len, lost } => (
            &catalog::DECODE_TRUNCATED,
            format!("SMB message at offset {offset} of a {declared_len}-byte SMB PDU is cut short: {lost} bytes are missing from the capture, so only its first bytes are decoded"),
        ),
        StateNote::EncryptedTooLarge { session_id, size, kept } => (
            &catalog::DECODE_STATE_LIMIT,
            format!("An encrypted SMB3 message of session 0x{session_id:016x} is {size} bytes; smbdiag keeps at most {kept} bytes of one encrypted message per direction of a connection (its memory bound), so this one and any larger on this connection are not decrypted and are counted as hidden; smaller ones still are. Likely cause: a server or client that negotiated READ/WRITE sizes above 8 MiB. Next check: Wireshark's own SMB2 dissector decrypts it with the same key (smb2.cmd on this frame)."),
        ),
        StateNote::NotDecompressed { frame, what, why } => (
            &catalog::DECODE_NOT_DECOMPRESSED,
            format!("The compressed message in frame {frame} was not decompressed ({what}): {why}. The message(s) it carries are hidden from the rules (a request without its response, or a status never read), so findings about them may be missing, never wrong; later compressed messages of this connection that fail are not noted again, each says why in its smbdiag.compressed item. Next check: Wireshark's own SMB2 dissector on this frame (smb2.cmd), and whether the capture cut the message short."),
        ),
        StateNote::Hidden { session_id: sid, hidden, user, dialect, cipher } => {
            let rule = match hidden {
                Hidden::Failed(_) | Hidden::WrongPassword | Hidden::Keytab(_) => &catalog::DECODE_DECRYPT_FAILED,
                Hidden::NoKey | Hidden::NoPreauth => &catalog::DECODE_ENCRYPTED,
            };
            let what = format!(
                "Session 0x{sid:016x} (user {}, {}, {})",
                user.as_deref().unwrap_or("unknown: its setup is not in the capture"),
                dialect.map_or("dialect unknown".to_string(), |d| d.to_string()),
                match (cipher, dialect) {
                    (Some(c), _) => c.name(),
                    (None, Some(d)) if d.is_smb3() && d != Dialect::SMB3_1_1 => "AES-128-CCM",
                    _ => "cipher unknown",
                }
            );
            let wire: String = sid.to_le_bytes().iter().map(|b| format!("{b:02x}")).collect();
            let text = match hidden {
                Hidden::NoKey => format!(
                    "{what} is encrypted and smbdiag has no key for it: its encrypted messages on this connection, from this one on, are hidden from the rules (tree connects, opens, statuses, response times); each is numbered in smbdiag.encrypted, and `-z smbdiag,summary` counts them per connection. Next check: give its session key in Wireshark's SMB2 \"Secret session keys for decryption\" table or in the preference smbdiag.session_keys, with session id {wire} (Wireshark's form) or 0x{sid:016x}.",
                ),
                Hidden::NoPreauth => format!(
                    "{what} is encrypted; a session key is given, but SMB 3.1.1 derives its keys from a hash of the NEGOTIATE and SESSION_SETUP exchange, which this capture does not hold, so its encrypted messages stay hidden. Next check: give the server-to-client and client-to-server keys instead (the 3rd and 4th fields of the key entry), or capture from before the session is set up.",
                ),
                Hidden::WrongPassword => format!(
                    "The password given for {} does not match the NTLMv2 logon of session 0x{sid:016x} (the client's NTProofStr differs; {what}): its encrypted messages stay hidden. Next check: the password or NT hash in the preference smbdiag.ntlm_passwords for this account (as it was at capture time).",
                    user.as_deref().unwrap_or("its user"),
                ),
                Hidden::Keytab(miss) => {
                    let ticket = format!(
                        "{}{}",
                        etype_name(miss.etype),
                        miss.kvno.map_or(String::new(), |k| format!(", key version {k}"))
                    );
                    let why = match miss.cause {
                        MissCause::NoKeyOfType => format!("the keytab has no key of that type ({ticket})"),
                        MissCause::NoKeyOpens => format!("none of the keytab's {} keys of that type opens it (its checksum does not match)", miss.tried),
                        MissCause::Unsupported => "smbdiag decrypts aes256-cts-hmac-sha1-96, aes128-cts-hmac-sha1-96 and rc4-hmac tickets only".to_string(),
                        MissCause::Malformed => "the ticket opened but its content is not a Kerberos EncTicketPart".to_string(),
                    };
                    format!(
                        "The keytab given does not open the Kerberos ticket of session 0x{sid:016x}'s logon (the ticket is encrypted with {ticket}; {why}; {what}): its encrypted messages stay hidden. Likely cause: the keytab of another account than the one holding the service's SPN (smbdiag.spn on the SESSION_SETUP request), or a key version older or newer than the ticket's (the account's password changed). Next check: export the keytab of the server's account (samba-tool domain exportkeytab --principal=..., or ktpass on Windows) and compare its key versions with klist -k -e.",
                    )
                }
                Hidden::Failed(_) => format!(
                    "The key given for session 0x{sid:016x} does not decrypt its encrypted messages (authentication tag mismatch; {what}): nothing is decoded from them. Likely cause: the key belongs to another session or capture, the server-to-client and client-to-server keys are swapped, or an AES-256 session was given a 16-byte key. Next check: the key logged for session id {wire} (Wireshark's form) and the cipher.",
                ),
            };
            (rule, text)
        }
    };
    Finding { rule, text, related_frames: Vec::new() }
}
