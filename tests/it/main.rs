//! The one integration-test binary. Every test runs against a real Postgres given by
//! `harness`, in a fresh database of its own.

mod access;
mod advisors;
mod aethercrown98;
mod catalog;
mod cli;
mod diff;
mod engine;
mod fleet;
mod generate;
mod lint;
// Shared with the table-driven tests (`tests/cases`), which use other parts of it.
#[allow(dead_code)]
mod harness;
mod output;
mod pooler;
mod promises;
mod properties;
mod proxy;
mod readme;
mod reliability;
mod rollback;
mod sandbox;
mod screens;
mod supabase;
mod tls;
mod verify;
mod witchcraft;
