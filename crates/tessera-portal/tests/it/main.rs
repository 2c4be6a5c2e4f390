//! The integration tests of `tessera-portal`, in one test binary: each file is a module of it,
//! so the whole stack is linked once instead of once per file.

mod announce;
mod audit;
mod browser_sign_in;
mod contracts;
mod documents;
mod downloads;
mod help;
mod mail;
mod next_path;
mod reports;
mod scheduler;
mod shop;
mod support;
mod support_requests;
mod teams;
mod tokens;
mod web_panel;
