//! `wsgi.input` (PEP 3333 "Input and Error Streams"): `read(size)`, `readline(size)`,
//! `readlines(hint)`, iteration; empty bytes at the end of the body (also for chunked
//! request bodies). Reads block with the GIL released.

use pyo3::prelude::*;
use pyo3::types::PyBytes;

use super::errors::with_exchange;
use crate::worker::exchange::Shared;

#[pyclass(module = "wsgid_py", name = "Input")]
pub struct Input {
    pub ex: Shared,
}

fn size_arg(size: Option<isize>) -> Option<usize> {
    size.filter(|s| *s >= 0).map(|s| s as usize)
}

#[pymethods]
impl Input {
    #[pyo3(signature = (size = None))]
    fn read<'py>(&self, py: Python<'py>, size: Option<isize>) -> PyResult<Bound<'py, PyBytes>> {
        let size = size_arg(size);
        let v = with_exchange(py, &self.ex, move |x| x.read(size))?;
        Ok(PyBytes::new(py, &v))
    }

    #[pyo3(signature = (size = None))]
    fn readline<'py>(&self, py: Python<'py>, size: Option<isize>) -> PyResult<Bound<'py, PyBytes>> {
        let size = size_arg(size);
        let v = with_exchange(py, &self.ex, move |x| x.readline(size))?;
        Ok(PyBytes::new(py, &v))
    }

    #[pyo3(signature = (hint = None))]
    fn readlines<'py>(
        &self,
        py: Python<'py>,
        hint: Option<isize>,
    ) -> PyResult<Vec<Bound<'py, PyBytes>>> {
        let hint = size_arg(hint).filter(|h| *h > 0);
        let mut out = Vec::new();
        let mut total = 0;
        loop {
            let v = with_exchange(py, &self.ex, |x| x.readline(None))?;
            if v.is_empty() {
                break;
            }
            total += v.len();
            out.push(PyBytes::new(py, &v));
            if hint.is_some_and(|h| total >= h) {
                break;
            }
        }
        Ok(out)
    }

    fn __iter__(slf: PyRef<'_, Self>) -> PyRef<'_, Self> {
        slf
    }

    fn __next__<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyBytes>>> {
        let v = with_exchange(py, &self.ex, |x| x.readline(None))?;
        Ok((!v.is_empty()).then(|| PyBytes::new(py, &v)))
    }
}
