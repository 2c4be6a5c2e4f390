//! The vendor's portal: web shop, customer accounts, orders paid by bank transfer,
//! documents and e-mail, the back office, and (later) the hosted web license server.

pub mod documents;
pub mod mail;
pub mod money;
