//! Entry points for fuzzers (as quinn-proto's `fuzzing` module): each feeds
//! arbitrary bytes to a decoder that reads what another node sent or what a disk
//! holds, and must return without panicking. `fuzz/` drives them with libFuzzer
//! (`cargo +nightly fuzz run NAME`); `common/tests/fuzz_corpus.rs` runs the same
//! functions over the committed corpora in the normal test suite.

use std::io::Cursor;

use crate::activity::Activity;
use crate::audit::Entry;
use crate::chunk_tree;
use crate::codec;
use crate::media;
use crate::wire::{Request, Response};

/// A frame body from a peer, as either side decodes it.
pub fn frame(data: &[u8]) {
    if let Ok(r) = codec::decode_body::<Request>(data) {
        // a decoded message re-encodes: the codec is the only serializer
        let _ = codec::encode(&r);
        if let Request::Offer(o) = &r {
            // the center rebuilds the root from the offered chaining values
            let _ = chunk_tree::root_from_cvs(&o.cvs);
            let _ = chunk_tree::chunk_count(o.size);
        }
    }
    let _ = codec::decode_body::<Response>(data);
}

/// Stored record bytes of any version (audit entries are the most numerous).
pub fn record(data: &[u8]) {
    if let Ok(e) = Entry::decode(data) {
        let _ = e.encode();
    }
    let _ = crate::record::version_of(data);
}

/// An Automerge document saved by a peer or a store, and a sync message from a peer.
pub fn document(data: &[u8]) {
    if let Ok(d) = automerge::AutoCommit::load(data) {
        let _ = crate::doc::check_format(&d);
        let _ = crate::doc::get::<Activity>(&d, &["activity"]);
        let _ = crate::doc::to_json(&d);
    }
    let _ = automerge::sync::Message::decode(data);
}

/// A file handed to ingest: MP4/MOV boxes, JPEG/EXIF, WAV chunks.
pub fn media(data: &[u8]) {
    let len = data.len() as u64;
    let _ = media::probe(&mut Cursor::new(data), len, 0, 480);
}
