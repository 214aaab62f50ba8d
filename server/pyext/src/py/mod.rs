//! pyo3 glue only: the WSGI objects handed to applications (`wsgi.input`,
//! `start_response` and its `write`, `wsgi.file_wrapper`), application loading, environ
//! construction and error conversion. Every blocking socket wait releases the GIL.

pub mod app;
pub mod environ;
pub mod errors;
pub mod file_wrapper;
pub mod input;
pub mod start_response;
