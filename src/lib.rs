//! `migrate` owns the PostgreSQL schemas of AetherCrown98 and Witchcraft: the versioned SQL of
//! both products is embedded in the binary, and this library applies, inspects and rolls it
//! back against any Postgres. The `migrate` binary is a thin command-line layer over it, and
//! the integration tests use the same code, including the throwaway server of `sandbox`.

pub mod catalog;
pub mod cluster;
pub mod config;
pub mod diff;
pub mod engine;
pub mod interrupt;
pub mod lint;
pub mod redact;
pub mod run;
pub mod sets;
pub mod verify;
