//! Range checks shared by every config's `validate`.
//!
//! Each check takes the owner and field names so that the error points at the exact
//! config entry a user has to fix.

use crate::error::{OptimError, Result};

fn reject(
    owner: &'static str,
    field: &'static str,
    value: f64,
    allowed: &'static str,
) -> OptimError {
    OptimError::InvalidHyperparameter {
        owner,
        field,
        value: value.to_string(),
        allowed,
    }
}

/// `value >= 0` and finite (learning rates, weight decay, epsilons, noise levels).
pub(crate) fn non_negative(owner: &'static str, field: &'static str, value: f64) -> Result<()> {
    if value.is_finite() && value >= 0.0 {
        Ok(())
    } else {
        Err(reject(owner, field, value, "finite and >= 0"))
    }
}

/// `value > 0` and finite.
pub(crate) fn positive(owner: &'static str, field: &'static str, value: f64) -> Result<()> {
    if value.is_finite() && value > 0.0 {
        Ok(())
    } else {
        Err(reject(owner, field, value, "finite and > 0"))
    }
}

/// `0 <= value < 1` (betas, momentum coefficients, decay rates).
pub(crate) fn unit_half_open(owner: &'static str, field: &'static str, value: f64) -> Result<()> {
    if (0.0..1.0).contains(&value) {
        Ok(())
    } else {
        Err(reject(owner, field, value, "in [0, 1)"))
    }
}

/// `0 <= value <= 1` (dampening, interpolation factors, factors of a schedule).
pub(crate) fn unit_closed(owner: &'static str, field: &'static str, value: f64) -> Result<()> {
    if (0.0..=1.0).contains(&value) {
        Ok(())
    } else {
        Err(reject(owner, field, value, "in [0, 1]"))
    }
}

/// `0 < value <= 1`.
pub(crate) fn unit_open_left(owner: &'static str, field: &'static str, value: f64) -> Result<()> {
    if value > 0.0 && value <= 1.0 {
        Ok(())
    } else {
        Err(reject(owner, field, value, "in (0, 1]"))
    }
}

/// An integer count that must be at least one (periods, steps, `k` of Lookahead).
pub(crate) fn at_least_one(owner: &'static str, field: &'static str, value: usize) -> Result<()> {
    if value >= 1 {
        Ok(())
    } else {
        Err(OptimError::InvalidHyperparameter {
            owner,
            field,
            value: value.to_string(),
            allowed: ">= 1",
        })
    }
}
