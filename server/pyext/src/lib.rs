//! `wsgid_py`: wsgid's server, as a CPython abi3 extension (>= 3.11). The `wsgid`
//! launcher execs python3 to load this file by path and call [`run`]; everything else
//! (master, workers, WSGI objects) lives in the modules below. The `#[pymodule]` only
//! registers.

pub mod log;
pub mod master;
pub mod net;
pub mod py;
pub mod scoreboard;
pub mod server;
pub mod tls;
pub mod worker;

use pyo3::prelude::*;

/// Runs the server with wsgid's command-line arguments; returns the exit code.
#[pyfunction]
fn run(py: Python<'_>, args: Vec<String>) -> PyResult<i32> {
    server::run(py, &args)
}

#[pymodule]
fn wsgid_py(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(run, m)?)?;
    m.add_class::<py::file_wrapper::FileWrapper>()?;
    m.add("__version__", wsgid::VERSION)?;
    Ok(())
}
