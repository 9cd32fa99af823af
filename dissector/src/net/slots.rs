//! Per-connection data kept by the layers above the flow table (SMB state,
//! rule families), indexed by the connection's slot: a small number the flow
//! table hands out and takes back when the connection ends. A lookup is an
//! index into a Vec, not a hash of the connection id on every message.
//!
//! Each entry keeps the full `ConnId` it belongs to: a slot handed to a new
//! connection before the old one's data was forgotten never shows the old
//! data (its id differs), and forgetting the old id leaves the new data alone.
//! The Vec is as long as the most connections the flow table held at once,
//! which its own bound (`MAX_CONNECTIONS`, noted as `decode.state_limit`) caps.

use super::flow::ConnId;

#[derive(Debug)]
pub struct PerConn<T> {
    entries: Vec<Option<(ConnId, T)>>,
    live: usize,
}

impl<T> Default for PerConn<T> {
    fn default() -> Self {
        PerConn { entries: Vec::new(), live: 0 }
    }
}

impl<T> PerConn<T> {
    pub fn get(&self, id: ConnId) -> Option<&T> {
        match self.entries.get(id.slot()) {
            Some(Some((owner, v))) if *owner == id => Some(v),
            _ => None,
        }
    }

    pub fn get_mut(&mut self, id: ConnId) -> Option<&mut T> {
        match self.entries.get_mut(id.slot()) {
            Some(Some((owner, v))) if *owner == id => Some(v),
            _ => None,
        }
    }

    pub fn contains(&self, id: ConnId) -> bool {
        self.get(id).is_some()
    }

    /// The connection's data, made with `make` if it has none (data a former
    /// holder of the slot left behind is dropped).
    pub fn get_or_insert_with(&mut self, id: ConnId, make: impl FnOnce() -> T) -> &mut T {
        let i = id.slot();
        if i >= self.entries.len() {
            self.entries.resize_with(i + 1, || None);
        }
        let e = &mut self.entries[i];
        if !matches!(e, Some((owner, _)) if *owner == id) {
            if e.is_none() {
                self.live += 1;
            }
            *e = Some((id, make()));
        }
        match e {
            Some((_, v)) => v,
            None => unreachable!("filled above"),
        }
    }

    pub fn remove(&mut self, id: ConnId) -> Option<T> {
        let e = self.entries.get_mut(id.slot())?;
        if !matches!(e, Some((owner, _)) if *owner == id) {
            return None;
        }
        self.live -= 1;
        e.take().map(|(_, v)| v)
    }

    /// Connections holding data.
    pub fn len(&self) -> usize {
        self.live
    }

    pub fn is_empty(&self) -> bool {
        self.live == 0
    }

    pub fn values(&self) -> impl Iterator<Item = &T> {
        self.entries.iter().filter_map(|e| e.as_ref().map(|(_, v)| v))
    }
}

impl<T: Default> PerConn<T> {
    pub fn entry(&mut self, id: ConnId) -> &mut T {
        self.get_or_insert_with(id, T::default)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reused_slot_never_shows_the_former_connections_data() {
        let mut t: PerConn<u32> = PerConn::default();
        let (old, new) = (ConnId::new(1, 0), ConnId::new(2, 0));
        *t.entry(old) = 7;
        // The slot goes to a new connection before the old one is forgotten.
        assert_eq!(t.get(new), None);
        assert_eq!(*t.entry(new), 0);
        assert_eq!(t.len(), 1);
        // Forgetting the old connection leaves the new one's data.
        assert_eq!(t.remove(old), None);
        *t.entry(new) = 3;
        assert_eq!(t.get(new), Some(&3));
        assert_eq!(t.remove(new), Some(3));
        assert!(t.is_empty() && t.get(new).is_none());
    }

    #[test]
    fn slots_index_their_own_entries() {
        let mut t: PerConn<u32> = PerConn::default();
        for n in 0..5 {
            *t.entry(ConnId::new(n, n)) = n * 10;
        }
        assert_eq!(t.len(), 5);
        assert_eq!(t.get(ConnId::new(3, 3)), Some(&30));
        assert_eq!(t.values().sum::<u32>(), 100);
    }
}
