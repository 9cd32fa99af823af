//! The keys a user gives: Wireshark's "Secret session keys for decryption"
//! table (`smb2_seskey_list`: session id, session key, server-to-client key,
//! client-to-server key) and the same entries in smbdiag's own preference;
//! and a keytab, for Kerberos logons.

/// Keys for one session. Empty vectors are keys not given.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SessionSecret {
    pub session_id: u64,
    pub session_key: Vec<u8>,
    pub s2c: Vec<u8>,
    pub c2s: Vec<u8>,
}

/// Every key the user gave, and what could not be read (shown once, so a typo is not silent).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct KeyTable {
    pub sessions: Vec<SessionSecret>,
    /// Passwords or NT hashes for NTLMv2 logons (the session key is derived from the capture).
    pub ntlm: Vec<super::ntlm::NtlmSecret>,
    /// Service keys (a keytab) for Kerberos logons (the session key is taken from the AP exchange).
    pub keytab: Vec<crate::kerberos::keytab::KeytabEntry>,
    pub errors: Vec<String>,
}

/// Hex digits (optionally separated by ':' or spaces) to bytes.
pub fn parse_hex(s: &str) -> Option<Vec<u8>> {
    let digits: Vec<u8> = s.bytes().filter(|b| !matches!(b, b':' | b' ' | b'-')).collect();
    if digits.len() % 2 != 0 {
        return None;
    }
    digits
        .chunks(2)
        .map(|p| {
            let h = (p[0] as char).to_digit(16)?;
            let l = (p[1] as char).to_digit(16)?;
            Some((h * 16 + l) as u8)
        })
        .collect()
}

/// A session id as Wireshark's table takes it (16 hex digits: the 8 bytes
/// as they travel, little-endian) or as a number with `0x` (how
/// `smb2.sesid` and `smbdiag.session_id` display it).
pub fn parse_session_id(s: &str) -> Option<u64> {
    if let Some(n) = s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        return u64::from_str_radix(n, 16).ok();
    }
    let b = parse_hex(s)?;
    Some(u64::from_le_bytes(b.try_into().ok()?))
}

fn unquote(s: &str) -> &str {
    let s = s.trim();
    s.strip_prefix('"').and_then(|x| x.strip_suffix('"')).unwrap_or(s)
}

impl KeyTable {
    pub fn is_empty(&self) -> bool {
        self.sessions.is_empty() && self.ntlm.is_empty() && self.keytab.is_empty()
    }

    /// smbdiag's keytab preference: the path of an MIT keytab file (empty: none).
    pub fn add_keytab_file(&mut self, path: &str) {
        let path = path.trim();
        if path.is_empty() {
            return;
        }
        match std::fs::read(path) {
            Ok(data) => self.add_keytab(&data, path),
            Err(e) => self.errors.push(format!("preference smbdiag.keytab: cannot read {path}: {e}")),
        }
    }

    /// A keytab's bytes (`source` names it in errors).
    pub fn add_keytab(&mut self, data: &[u8], source: &str) {
        match crate::kerberos::keytab::parse_keytab(data) {
            Ok(e) => self.keytab.extend(e),
            Err(e) => self.errors.push(format!("preference smbdiag.keytab: {source} is {e}")),
        }
    }

    /// smbdiag's NTLM preference: `[DOMAIN\]user:password` or
    /// `[DOMAIN\]user:nt=<NT hash>`, entries separated by `;`.
    pub fn add_ntlm_preference(&mut self, text: &str) {
        for e in text.split(';').map(str::trim).filter(|e| !e.is_empty()) {
            match super::ntlm::NtlmSecret::parse(e) {
                Some(s) => self.ntlm.push(s),
                // Never echo a password back.
                None => self.errors.push("preference smbdiag.ntlm_passwords: an entry is not [DOMAIN\\]user:password or [DOMAIN\\]user:nt=<32 hex digits>".to_string()),
            }
        }
    }

    /// The keys of a session, if given.
    pub fn session(&self, id: u64) -> Option<&SessionSecret> {
        self.sessions.iter().find(|s| s.session_id == id)
    }

    /// One entry: `id,session_key[,s2c_key,c2s_key]`, fields optionally quoted.
    fn add_entry(&mut self, entry: &str, source: &str) {
        let f: Vec<&str> = entry.split(',').map(unquote).collect();
        let key = |i: usize| -> Option<Vec<u8>> { f.get(i).map_or(Some(Vec::new()), |s| parse_hex(s)) };
        let parsed = (|| {
            let session_id = parse_session_id(f.first()?)?;
            let (session_key, s2c, c2s) = (key(1)?, key(2)?, key(3)?);
            let lens_ok = matches!(session_key.len(), 0 | 16 | 32) && matches!(s2c.len(), 0 | 16 | 32) && matches!(c2s.len(), 0 | 16 | 32);
            (lens_ok && !(session_key.is_empty() && s2c.is_empty() && c2s.is_empty())).then_some(SessionSecret { session_id, session_key, s2c, c2s })
        })();
        match parsed {
            Some(s) => {
                self.sessions.retain(|x| x.session_id != s.session_id);
                self.sessions.push(s);
            }
            None => self.errors.push(format!(
                "{source}: \"{}\" is not session id,session key[,server-to-client key,client-to-server key] (session id as 16 hex digits as Wireshark takes it, or 0x and the number; keys of 16 or 32 bytes in hex)",
                entry.trim()
            )),
        }
    }

    /// Wireshark's `smb2_seskey_list` file or its in-memory table: one entry a line, `#` comments.
    pub fn add_wireshark_table(&mut self, text: &str) {
        for line in text.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('#')) {
            self.add_entry(line, "Wireshark's SMB2 session key table");
        }
    }

    /// smbdiag's preference: entries separated by `;` or whitespace.
    pub fn add_preference(&mut self, text: &str) {
        for e in text.split(|c: char| c == ';' || c.is_whitespace()).filter(|e| !e.trim().is_empty()) {
            self.add_entry(e, "preference smbdiag.session_keys");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_wireshark_entries_and_smbdiag_preference() {
        let mut t = KeyTable::default();
        t.add_wireshark_table("# This file is automatically generated, DO NOT MODIFY.\n\"3d00009400480000\",\"28f2847263c83dc00621f742dd3f2e7b\",\"\",\"\"\n");
        assert_eq!(t.session(0x0000_4800_9400_003d).map(|s| s.session_key.len()), Some(16));
        t.add_preference("0x0000480094000041,00112233445566778899aabbccddeeff; 4100000000100000,,00112233445566778899aabbccddeeff,ffeeddccbbaa99887766554433221100");
        assert_eq!(t.sessions.len(), 3);
        let s = t.session(0x0000_1000_0000_0041).unwrap();
        assert!(s.session_key.is_empty());
        assert_eq!(s.c2s[0], 0xff);
        assert!(t.errors.is_empty());
        t.add_preference("123,abcd zz,00");
        assert_eq!(t.errors.len(), 2);
        assert_eq!(t.sessions.len(), 3);
    }
}
