//! Entry point for fuzzers: what `jilu-verify` parses from a bag it did not write
//! (manifests, the label, the custody chain) fed with arbitrary bytes, which must
//! never panic. Driven by `fuzz/` and by `bag/tests/fuzz_corpus.rs`.

/// One input, read as each of the bag's text files.
pub fn bag(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    if let Ok(m) = crate::manifest::parse(&text) {
        let _ = crate::manifest::render(&m);
    }
    if let Ok(l) = crate::label::Label::parse(&text) {
        // a label that parses renders to a label that parses the same
        assert_eq!(crate::label::Label::parse(&l.render()).ok(), Some(l));
    }
    let _ = crate::custody::check(&text);
}
