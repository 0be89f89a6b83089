//! Normalising proxy and SDK spans into [`crate::span::Span`].
