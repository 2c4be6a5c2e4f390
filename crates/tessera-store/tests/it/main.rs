//! The integration tests of `tessera-store`, in one test binary: each file is a module of it,
//! so the whole stack is linked once instead of once per file.

mod audit;
mod behind;
mod portal;
mod seats;
mod teams;
