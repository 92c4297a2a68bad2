//! Time zones without a zone database on disk.
