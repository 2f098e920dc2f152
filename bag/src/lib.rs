//! Preservation copies of enforcement recordings (art. 16 of the regulation: "an
//! original and a copy", each labelled with the producing unit, the producer, the
//! time, and the activity's or case's name and number).
//!
//! A copy is a BagIt bag (RFC 8493) that anyone can check with no Jilu database and
//! no network: the footage, a label, and the custody chain of every item as payload,
//! with SHA-256, BLAKE3 and SM3 (GB/T 32905) manifests over the payload and tag
//! manifests over the bag's own files. The ISO 9660 image of a bag is what gets
//! burnt to disc.
//!
//! # Layout
//! - [`digest`]: the three digests, computed in one pass over a file.
//! - [`manifest`]: manifest lines and the path encoding RFC 8493 asks for.
//! - [`label`]: the regulation's label fields.
//! - [`custody`]: the custody chain carried in a bag, each line linked by BLAKE3.
//! - [`write`]: writes a bag.
//! - [`verify`]: checks a bag (or an image of one) and reports every mismatch.
//! - [`iso`]: a bag's reproducible ISO 9660 image, written and read with `xorriso`.

pub mod custody;
pub mod digest;
pub mod iso;
pub mod label;
pub mod manifest;
pub mod verify;
pub mod write;

pub use digest::Algorithm;
pub use label::Label;
pub use verify::{verify, Report};
pub use write::BagWriter;
