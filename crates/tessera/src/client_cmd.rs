//! `tessera status` and `tessera checkout`: the client side, through tessera-client.

use std::process::ExitCode;

use crate::cli::{CheckoutArgs, StatusArgs};

pub fn status(_args: StatusArgs) -> anyhow::Result<ExitCode> {
    anyhow::bail!("not yet")
}

pub fn checkout(_args: CheckoutArgs) -> anyhow::Result<ExitCode> {
    anyhow::bail!("not yet")
}
