//! MIT keytab files (the format of `ktutil`, `samba-tool domain
//! exportkeytab`, Windows `ktpass`): principals and their long-term keys,
//! read with nom. Version 0x502 (big-endian) only; 0x501 (host byte order,
//! from the 1990s) is refused with a reason. A damaged entry ends the reading
//! but keeps the entries before it.

use kerberos_parser::krb5::EncryptionType;
use nom::bytes::complete::take;
use nom::number::complete::{be_i32, be_u16, be_u32, be_u8};
use nom::{IResult, Parser};

/// One key of a keytab.
#[derive(Clone, PartialEq, Eq)]
pub struct KeytabEntry {
    /// "cifs/files.lab.test@LAB.TEST", "LABDC$@LAB.TEST".
    pub principal: String,
    pub kvno: u32,
    pub etype: EncryptionType,
    pub key: Vec<u8>,
}

// Keys stay out of debug output.
impl std::fmt::Debug for KeytabEntry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "KeytabEntry({}, kvno {}, etype {}, {} key bytes)", self.principal, self.kvno, self.etype.0, self.key.len())
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KeytabError {
    NotKeytab,
    /// Version 0x501: fields in the writing host's byte order.
    OldVersion,
    /// No entry could be read.
    Empty,
}

impl std::fmt::Display for KeytabError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            KeytabError::NotKeytab => "not an MIT keytab (it does not start with 0x05 0x02)",
            KeytabError::OldVersion => "an MIT keytab of version 0x501, which smbdiag does not read (rewrite it with ktutil)",
            KeytabError::Empty => "a keytab with no readable key",
        })
    }
}

/// Entries read, at most this many (a keytab of a whole domain has a few thousand).
const MAX_ENTRIES: usize = 100_000;

fn counted(i: &[u8]) -> IResult<&[u8], &[u8]> {
    let (i, n) = be_u16(i)?;
    take(n)(i)
}

/// One entry's body (its length already cut off).
fn entry(i: &[u8]) -> IResult<&[u8], KeytabEntry> {
    let (i, components) = be_u16(i)?;
    let (mut i, realm) = counted(i)?;
    let mut name = Vec::new();
    for _ in 0..components {
        let (rest, c) = counted(i)?;
        name.push(String::from_utf8_lossy(c).into_owned());
        i = rest;
    }
    let (i, (_name_type, _timestamp, kvno8, etype)) = (be_u32, be_u32, be_u8, be_u16).parse(i)?;
    let (i, key) = counted(i)?;
    // A 32-bit kvno may follow (keytabs since krb5 1.14); it supersedes the 8-bit one when non-zero.
    let kvno = match be_u32::<_, nom::error::Error<&[u8]>>(i) {
        Ok((_, k)) if k != 0 => k,
        _ => kvno8 as u32,
    };
    let principal = format!("{}@{}", name.join("/"), String::from_utf8_lossy(realm));
    Ok((i, KeytabEntry { principal, kvno, etype: EncryptionType(etype as i32), key: key.to_vec() }))
}

/// Read a keytab file's bytes.
pub fn parse_keytab(data: &[u8]) -> Result<Vec<KeytabEntry>, KeytabError> {
    match data {
        [5, 2, ..] => {}
        [5, 1, ..] => return Err(KeytabError::OldVersion),
        _ => return Err(KeytabError::NotKeytab),
    }
    let mut i = &data[2..];
    let mut out = Vec::new();
    while !i.is_empty() && out.len() < MAX_ENTRIES {
        let Ok((rest, size)) = be_i32::<_, nom::error::Error<&[u8]>>(i) else { break };
        let Some(body) = rest.get(..size.unsigned_abs() as usize) else { break };
        i = &rest[body.len()..];
        // A negative size is a hole left by a deleted entry.
        if size > 0 {
            if let Ok((_, e)) = entry(body) {
                out.push(e);
            }
        }
    }
    if out.is_empty() {
        return Err(KeytabError::Empty);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lab_keytab(name: &str) -> Vec<u8> {
        std::fs::read(format!("{}/../tests/captures/lab/{name}", env!("CARGO_MANIFEST_DIR"))).unwrap()
    }

    /// samba-tool's export of the DC's machine account: its AES and RC4 keys.
    #[test]
    fn reads_the_lab_dc_keytab() {
        let e = parse_keytab(&lab_keytab("kerberos_encrypted_share_not_found.keytab")).unwrap();
        let etypes: Vec<i32> = e.iter().map(|e| e.etype.0).collect();
        assert!(etypes.contains(&18) && etypes.contains(&17) && etypes.contains(&23), "{e:?}");
        for k in &e {
            assert_eq!(k.principal, "LABDC$@LAB.TEST");
            assert_eq!(k.key.len(), if k.etype.0 == 17 || k.etype.0 == 23 { 16 } else { 32 }, "{k:?}");
        }
        // Every cut of the file reads without panicking and keeps whole entries only.
        let data = lab_keytab("kerberos_encrypted_share_not_found.keytab");
        for n in 0..data.len() {
            if let Ok(part) = parse_keytab(&data[..n]) {
                assert!(part.len() < e.len() && part.iter().zip(&e).all(|(a, b)| a == b));
            }
        }
    }

    #[test]
    fn refuses_other_files_with_a_reason() {
        assert_eq!(parse_keytab(b"hello"), Err(KeytabError::NotKeytab));
        assert_eq!(parse_keytab(&[5, 1, 0, 0]), Err(KeytabError::OldVersion));
        assert_eq!(parse_keytab(&[5, 2]), Err(KeytabError::Empty));
        // A hole (negative size) is skipped.
        assert_eq!(parse_keytab(&[5, 2, 0xff, 0xff, 0xff, 0xfe, 0, 0]), Err(KeytabError::Empty));
    }
}
