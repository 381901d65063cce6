//! (attacks on this wall are added here)

#[allow(unused_imports)]
use super::*;
