//! `start_response(status, response_headers, exc_info=None)` and the `write(data)`
//! callable it returns (PEP 3333 "The start_response() Callable"). Headers are stored
//! and sent with the first body byte; `exc_info` after headers went out re-raises.

use pyo3::exceptions::{PyAssertionError, PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::pybacked::PyBackedBytes;
use pyo3::types::{PyString, PyTuple};

use super::errors::with_exchange;
use crate::worker::exchange::Shared;

#[pyclass(module = "wsgid_py", name = "StartResponse")]
pub struct StartResponse {
    pub ex: Shared,
}

#[pyclass(module = "wsgid_py", name = "Write")]
pub struct Write {
    pub ex: Shared,
}

fn clean(s: &str, what: &str) -> PyResult<()> {
    if s.bytes().any(|b| b == b'\r' || b == b'\n' || b == 0) {
        return Err(PyValueError::new_err(format!(
            "wsgid: {what} contains a control character (CR, LF or NUL): {s:?}"
        )));
    }
    Ok(())
}

#[pymethods]
impl StartResponse {
    #[pyo3(signature = (status, headers, exc_info = None))]
    fn __call__(
        &self,
        py: Python<'_>,
        status: &Bound<'_, PyAny>,
        headers: &Bound<'_, PyAny>,
        exc_info: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Write> {
        let status: String = status
            .cast::<PyString>()
            .map_err(|_| PyTypeError::new_err("wsgid: status must be a str"))?
            .to_str()?
            .to_string();
        clean(&status, "status")?;
        let code: u16 = status
            .get(..3)
            .and_then(|c| c.parse().ok())
            .filter(|c| (100..1000).contains(c) && status.as_bytes().get(3) == Some(&b' '))
            .ok_or_else(|| {
                PyValueError::new_err(format!(
                    "wsgid: status must look like \"200 OK\", got {status:?}"
                ))
            })?;
        let mut hv: Vec<(String, String)> = Vec::new();
        for item in headers.try_iter()? {
            let item = item?;
            let t = item.cast::<PyTuple>().map_err(|_| {
                PyTypeError::new_err("wsgid: each header must be a (name, value) tuple")
            })?;
            if t.len() != 2 {
                return Err(PyTypeError::new_err(
                    "wsgid: each header must be a (name, value) tuple",
                ));
            }
            let n = t.get_item(0)?;
            let v = t.get_item(1)?;
            let n = n
                .cast::<PyString>()
                .map_err(|_| PyTypeError::new_err("wsgid: header names must be str"))?
                .to_str()?
                .to_string();
            let v = v
                .cast::<PyString>()
                .map_err(|_| {
                    PyTypeError::new_err(format!("wsgid: value of header {n} must be str"))
                })?
                .to_str()?
                .to_string();
            clean(&n, "header name")?;
            clean(&v, "header value")?;
            if n.is_empty() || n.contains(':') || n.contains(' ') {
                return Err(PyValueError::new_err(format!(
                    "wsgid: invalid header name {n:?}"
                )));
            }
            hv.push((n, v));
        }
        let has_exc = exc_info.is_some_and(|e| !e.is_none());
        let mut guard = self.ex.lock().unwrap_or_else(|p| p.into_inner());
        let Some(x) = guard.as_mut() else {
            return Err(PyValueError::new_err("wsgid: this request is over"));
        };
        if has_exc {
            if x.resp.headers_sent {
                drop(guard);
                // PEP 3333: re-raise the exception if headers were already sent.
                let e = exc_info.expect("checked").get_item(1)?;
                return Err(PyErr::from_value(e));
            }
        } else if x.resp.status.is_some() {
            return Err(PyAssertionError::new_err(
                "wsgid: start_response called a second time without exc_info",
            ));
        }
        x.resp.status = Some(status);
        x.resp.code = code;
        x.resp.headers = hv;
        drop(guard);
        let _ = py;
        Ok(Write {
            ex: self.ex.clone(),
        })
    }
}

#[pymethods]
impl Write {
    fn __call__(&self, py: Python<'_>, data: &Bound<'_, PyAny>) -> PyResult<()> {
        let b: PyBackedBytes = data
            .extract()
            .map_err(|_| PyTypeError::new_err("wsgid: write() takes bytes"))?;
        if b.is_empty() {
            return Ok(());
        }
        with_exchange(py, &self.ex, move |x| {
            if x.resp.status.is_none() {
                return Err(std::io::Error::other(
                    "write() called before start_response()",
                ));
            }
            x.send(&b, false)
        })
    }
}
