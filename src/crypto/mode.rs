//! The process's cryptographic mode: standard, or FIPS (every operation through AWS-LC's
//! FIPS 140-3 module; decision 0015). Chosen once at start, before any key is touched, and
//! fixed for the process: a ledger is wholly one or the other.

use std::sync::atomic::{AtomicBool, Ordering};

static FIPS: AtomicBool = AtomicBool::new(false);

/// Whether this build carries the FIPS module (`--features fips`).
pub const FIPS_BUILD: bool = cfg!(feature = "fips");

/// Whether FIPS mode is on.
pub fn fips() -> bool {
    FIPS.load(Ordering::Relaxed)
}

/// Why FIPS mode cannot be turned on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FipsUnavailable {
    #[error("this keyledger was built without the FIPS module: rebuild with `cargo build --release --features fips`")]
    NotInThisBuild,
    #[error("AWS-LC's FIPS module is not in FIPS mode: {0}")]
    ModuleNotInFipsMode(&'static str),
}

/// Turn FIPS mode on, after asserting that the module is in FIPS mode (its power-on
/// self-tests passed).
pub fn enable_fips() -> Result<(), FipsUnavailable> {
    if !FIPS_BUILD {
        return Err(FipsUnavailable::NotInThisBuild);
    }
    aws_lc_rs::try_fips_mode().map_err(FipsUnavailable::ModuleNotInFipsMode)?;
    FIPS.store(true, Ordering::Relaxed);
    Ok(())
}

/// The message of a refusal of a spec or algorithm outside the module in FIPS mode.
pub fn not_in_fips_mode(what: &str) -> String {
    format!("{what} is not available in FIPS mode: it is not a FIPS 140-3 approved algorithm of the module")
}

/// `n` random bytes into `out`: from AWS-LC's DRBG in FIPS mode, else from the given
/// standard source.
pub fn fill_random(out: &mut [u8], standard: impl FnOnce(&mut [u8])) {
    if fips() {
        aws_lc_rs::rand::fill(out).expect("AWS-LC's DRBG fills any buffer");
    } else {
        standard(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fips_mode_is_refused_without_the_module_and_off_by_default() {
        assert!(!fips());
        if !FIPS_BUILD {
            assert_eq!(enable_fips(), Err(FipsUnavailable::NotInThisBuild));
            assert!(!fips());
        }
    }
}
