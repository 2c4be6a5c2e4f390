//! The integration tests of `tessera-server`, in one test binary: each file is a module of it,
//! so the whole stack is linked once instead of once per file.

mod web;
mod web_contract;
mod web_limits;
