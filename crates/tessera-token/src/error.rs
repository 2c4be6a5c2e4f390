//! `TokenError`: why a key, a registration key or a token of the trust chain was not
//! accepted (malformed, a signature that does not verify, claims of the wrong kind).

use thiserror::Error;

#[derive(Debug, Error, PartialEq, Eq)]
pub enum TokenError {
    #[error("not a PASERK {0} key")]
    BadKey(&'static str),
    #[error("not a PASETO v4.public token")]
    Malformed,
    #[error("the signature does not verify")]
    InvalidSignature,
    #[error("the token's claims are not valid: {0}")]
    BadClaims(String),
    #[error("expected a `{expected}` token, got `{found}`")]
    WrongKind {
        expected: &'static str,
        found: String,
    },
    #[error("the registration key is not valid: {0}")]
    BadRegistrationKey(&'static str),
    #[error("the token covers products its activation does not: {0}")]
    ProductsOutsideActivation(String),
    #[error("the signature is not this file's: {0}")]
    PackageMismatch(String),
    #[error("signing failed")]
    Signing,
}
