//! The WSGI environ (PEP 3333 "environ Variables"): CGI variables from the request,
//! every value a `str` decoded as ISO-8859-1 (PEP 3333 "Unicode Issues"), plus the
//! `wsgi.*` keys.

use pyo3::prelude::*;
use pyo3::types::{PyBool, PyDict, PyString, PyTuple};

use crate::worker::request::Request;

/// Per-worker values shared by every environ.
pub struct EnvConsts {
    pub errors: Py<PyAny>,
    pub file_wrapper: Py<PyAny>,
    pub version: Py<PyAny>,
    pub multithread: bool,
    pub multiprocess: bool,
}

impl EnvConsts {
    pub fn new(py: Python<'_>, multithread: bool, multiprocess: bool) -> PyResult<EnvConsts> {
        Ok(EnvConsts {
            errors: py.import("sys")?.getattr("stderr")?.unbind(),
            file_wrapper: py
                .get_type::<super::file_wrapper::FileWrapper>()
                .into_any()
                .unbind(),
            version: PyTuple::new(py, [1, 0])?.into_any().unbind(),
            multithread,
            multiprocess,
        })
    }
}

/// A str from bytes as ISO-8859-1 (every byte is one code point).
pub fn latin1<'py>(py: Python<'py>, b: &[u8]) -> Bound<'py, PyString> {
    if b.is_ascii() {
        // ASCII is valid UTF-8.
        PyString::new(py, std::str::from_utf8(b).unwrap_or_default())
    } else {
        let s: String = b.iter().map(|&c| c as char).collect();
        PyString::new(py, &s)
    }
}

/// Builds the environ for `req`; `input` is the `wsgi.input` object.
pub fn build<'py>(
    py: Python<'py>,
    consts: &EnvConsts,
    req: &Request,
    input: Bound<'py, PyAny>,
) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    for (k, v) in &req.vars {
        d.set_item(PyString::new(py, k), latin1(py, v))?;
    }
    d.set_item(pyo3::intern!(py, "wsgi.version"), consts.version.bind(py))?;
    d.set_item(
        pyo3::intern!(py, "wsgi.url_scheme"),
        if req.https {
            pyo3::intern!(py, "https")
        } else {
            pyo3::intern!(py, "http")
        },
    )?;
    d.set_item(pyo3::intern!(py, "wsgi.input"), input)?;
    d.set_item(pyo3::intern!(py, "wsgi.errors"), consts.errors.bind(py))?;
    d.set_item(
        pyo3::intern!(py, "wsgi.multithread"),
        PyBool::new(py, consts.multithread),
    )?;
    d.set_item(
        pyo3::intern!(py, "wsgi.multiprocess"),
        PyBool::new(py, consts.multiprocess),
    )?;
    d.set_item(pyo3::intern!(py, "wsgi.run_once"), PyBool::new(py, false))?;
    d.set_item(
        pyo3::intern!(py, "wsgi.file_wrapper"),
        consts.file_wrapper.bind(py),
    )?;
    // wsgi.input returns b"" at the end of the body, chunked or not (werkzeug reads
    // bodies without CONTENT_LENGTH only when this is set).
    d.set_item(
        pyo3::intern!(py, "wsgi.input_terminated"),
        PyBool::new(py, true),
    )?;
    Ok(d)
}
