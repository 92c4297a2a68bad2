//! The machine table test (see machine.rs).
