//! The integration tests of `tessera`, in one test binary: each file is a module of it,
//! so the whole stack is linked once instead of once per file.

mod activation;
mod audit;
mod backup;
mod bad_input;
mod borrow;
mod cli_client;
mod client_library;
mod cluster;
mod common;
mod durability;
mod keep_alive;
mod leases;
mod limits;
mod live_page;
mod logs;
mod metrics;
mod named_login;
mod package;
mod paseto_interop;
mod policy;
mod portal_demo;
mod portal_flow;
mod portal_start;
mod registration;
mod scale_out;
mod site_keys;
mod smoke;
mod tidy;
mod token_use;
mod ttl;
mod usage;
mod vendor_issue;
mod vendor_sign;
mod waiting;
