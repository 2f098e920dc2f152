//! Whether a county's edge has received a change the center made (a decision:
//! approval, hold, classification): the change's heads are in the history of the
//! heads the edge last reported in the sync protocol.

use automerge::{AutoCommit, ChangeHash};

/// `ours` (heads right after the decision) are all covered by `theirs` (the
/// edge's heads from its last sync message), judged on `doc`, the center's copy.
/// Heads of the edge the center does not know yet prove nothing, so they are
/// left out; with none known the answer is no.
pub fn received(doc: &mut AutoCommit, theirs: &[ChangeHash], ours: &[ChangeHash]) -> bool {
    let known: Vec<ChangeHash> = theirs
        .iter()
        .filter(|h| doc.get_change_by_hash(h).is_some())
        .copied()
        .collect();
    if known.is_empty() {
        return false;
    }
    if ours.iter().any(|h| doc.get_change_by_hash(h).is_none()) {
        return false;
    }
    let after: Vec<ChangeHash> = doc.get_changes(&known).iter().map(|c| c.hash()).collect();
    ours.iter().all(|h| !after.contains(h))
}

#[cfg(test)]
mod tests {
    use super::*;
    use automerge::transaction::Transactable;
    use automerge::ROOT;

    #[test]
    fn received_once_the_edge_heads_cover_the_decision() {
        let mut center = AutoCommit::new();
        center.put(ROOT, "a", 1).unwrap();
        let mut edge = center.fork();
        let before = center.get_heads();
        center.put(ROOT, "hold", "x").unwrap();
        let decision = center.get_heads();
        assert!(!received(&mut center, &before, &decision));
        assert!(!received(&mut center, &[], &decision));
        edge.merge(&mut center).unwrap();
        edge.put(ROOT, "later", 2).unwrap();
        let theirs = edge.get_heads();
        // the edge's newest change is not known at the center yet
        assert!(!received(&mut center, &theirs, &decision));
        center.merge(&mut edge).unwrap();
        assert!(received(&mut center, &theirs, &decision));
        assert!(received(&mut center, &decision, &decision));
    }
}
