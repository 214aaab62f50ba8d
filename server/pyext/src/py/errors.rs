//! Conversions from I/O and exchange errors to Python exceptions, and the one helper
//! that runs socket work on an exchange with the GIL released.

use std::io;

use pyo3::exceptions::{PyOSError, PyValueError};
use pyo3::prelude::*;

use crate::worker::exchange::{Exchange, Shared};

/// Runs `f` on the exchange with the GIL released. A finished request (the app kept an
/// object past its end) raises `ValueError`; socket errors raise `OSError`.
pub fn with_exchange<R, F>(py: Python<'_>, ex: &Shared, f: F) -> PyResult<R>
where
    R: Send,
    F: FnOnce(&mut Exchange) -> io::Result<R> + Send,
{
    let r: Result<R, Option<io::Error>> = py.detach(|| {
        let mut guard = ex.lock().unwrap_or_else(|p| p.into_inner());
        match guard.as_mut() {
            Some(x) => f(x).map_err(Some),
            None => Err(None),
        }
    });
    r.map_err(|e| match e {
        None => PyValueError::new_err("wsgid: this request is over; its objects cannot be used"),
        Some(e) => PyOSError::new_err(format!("wsgid: client connection: {e}")),
    })
}
