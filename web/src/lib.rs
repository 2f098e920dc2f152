//! Jilu's web pages, shared by the city center (`center run`, `[http]`) and a
//! county office node (`edge-node run --http`, the office page: [`office`]): the templates (`web/templates`, compiled by askama), the
//! strings of every page in zh-CN and English ([`strings`]), the stylesheet
//! embedded in the binary ([`CSS`]) and the page models ([`pages`]) the servers
//! fill. No CDN, no script framework: the pages work on an intranet with no
//! internet, and the only script-free interaction is forms and links.
//!
//! The language is chosen per request ([`strings::Lang`]) and travels in each
//! page model: there is no process-global locale.

pub mod guard;
pub mod office;
pub mod pages;
pub mod strings;

pub use askama::Template;
pub use strings::{Lang, Strings};

/// The stylesheet, served at `/web/jilu.css`.
pub const CSS: &str = include_str!("../assets/jilu.css");
