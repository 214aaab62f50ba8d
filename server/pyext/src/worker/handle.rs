//! Serving one request through the application (PEP 3333 "The Server/Gateway Side"):
//! environ, `app(environ, start_response)`, iterate (or sendfile a file_wrapper), call
//! `close()`, end the response. Any Python exception is logged with its traceback and
//! answered with 500 when no byte was sent yet; nothing here panics or kills the worker.

use std::os::fd::RawFd;
use std::sync::{Arc, Mutex};

use pyo3::prelude::*;
use pyo3::pybacked::PyBackedBytes;
use pyo3::types::PyList;

use super::conn::Conn;
use super::exchange::{Exchange, Shared};
use super::request::Request;
use crate::py::environ::{self, EnvConsts};
use crate::py::file_wrapper::FileWrapper;
use crate::py::input::Input;
use crate::py::start_response::StartResponse;

/// What the log line needs after a request.
pub struct Outcome {
    pub status: u16,
    pub body_bytes: u64,
    pub headers: usize,
    pub header_bytes: usize,
    /// The connection, when it may serve another request.
    pub conn: Option<Conn>,
}

fn log_exception(py: Python<'_>, e: &PyErr, what: &str) {
    crate::log::info(&format!("exception {what}:"));
    e.display(py);
}

/// Sends `data` (GIL released).
fn send(py: Python<'_>, ex: &Shared, data: &[u8], last: bool) -> std::io::Result<()> {
    py.detach(|| {
        let mut g = ex.lock().unwrap_or_else(|p| p.into_inner());
        match g.as_mut() {
            Some(x) => {
                if x.resp.status.is_none() {
                    return Err(std::io::Error::other(
                        "the application returned a body before calling start_response()",
                    ));
                }
                x.send(data, last)
            }
            None => Err(std::io::Error::other("exchange gone")),
        }
    })
}

fn headers_sent(ex: &Shared) -> bool {
    ex.lock()
        .unwrap_or_else(|p| p.into_inner())
        .as_ref()
        .is_some_and(|x| x.resp.headers_sent)
}

/// A 500 if nothing was sent yet; otherwise the connection must close.
fn fail(py: Python<'_>, ex: &Shared) -> bool {
    py.detach(|| {
        let mut g = ex.lock().unwrap_or_else(|p| p.into_inner());
        match g.as_mut() {
            Some(x) if !x.resp.headers_sent => {
                let _ = x.error_response(500, "Internal Server Error");
                true
            }
            _ => false,
        }
    })
}

/// The file descriptor, offset and length for sendfile, if the wrapped file has one.
fn file_for_sendfile(py: Python<'_>, fw: &FileWrapper) -> Option<(RawFd, i64, u64)> {
    let f = fw.filelike.bind(py);
    let fd: RawFd = f.call_method0("fileno").ok()?.extract().ok()?;
    let pos: i64 = match f.call_method0("tell") {
        Ok(p) => p.extract().ok()?,
        Err(_) => 0,
    };
    // SAFETY: zeroed stat is a valid out-parameter; fd comes from the file object.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: fstat on a descriptor the file object owns, into a live local.
    if unsafe { libc::fstat(fd, &mut st) } != 0 || (st.st_mode & libc::S_IFMT) != libc::S_IFREG {
        return None;
    }
    let size = st.st_size as u64;
    Some((fd, pos, size.saturating_sub(pos as u64)))
}

fn declared_length(ex: &Shared) -> Option<u64> {
    let g = ex.lock().unwrap_or_else(|p| p.into_inner());
    g.as_ref()?.resp.headers.iter().find_map(|(n, v)| {
        n.eq_ignore_ascii_case("content-length")
            .then(|| v.trim().parse().ok())
            .flatten()
    })
}

/// Writes the body from the app's return value. Returns false if the connection is
/// unusable afterwards (an error after headers were sent).
fn write_body(py: Python<'_>, ex: &Shared, result: &Bound<'_, PyAny>) -> bool {
    // file_wrapper over a real file: sendfile(2).
    if let Ok(fw) = result.cast::<FileWrapper>() {
        let fw = fw.borrow();
        if let Some((fd, off, avail)) = file_for_sendfile(py, &fw) {
            let len = declared_length(ex).map_or(avail, |d| d.min(avail));
            let r = py.detach(|| {
                let mut g = ex.lock().unwrap_or_else(|p| p.into_inner());
                let x = g.as_mut().ok_or_else(|| std::io::Error::other("gone"))?;
                if x.resp.status.is_none() {
                    return Err(std::io::Error::other("start_response() not called"));
                }
                x.send_head_for_file(len)?;
                if x.resp.framing == super::exchange::Framing::None {
                    return Ok(());
                }
                let sent = x.conn.sendfile(fd, off, len)?;
                x.resp.body_bytes += sent;
                Ok(())
            });
            return match r {
                Ok(()) => true,
                Err(e) => {
                    crate::log::info(&format!("sendfile: {e}"));
                    fail(py, ex)
                }
            };
        }
    }
    // One-element list/tuple of bytes (the common `return [body]`): Content-Length known.
    if let Ok(l) = result.cast::<PyList>()
        && l.len() == 1
        && let Ok(b) = l
            .get_item(0)
            .and_then(|i| i.extract::<PyBackedBytes>().map_err(Into::into))
    {
        return match send(py, ex, &b, true) {
            Ok(()) => true,
            Err(e) => {
                crate::log::info(&format!("response: {e}"));
                fail(py, ex)
            }
        };
    }
    let iter = match result.try_iter() {
        Ok(i) => i,
        Err(e) => {
            log_exception(py, &e, "iterating the application's response");
            return fail(py, ex);
        }
    };
    // Hold one chunk back: if it is the last, Content-Length can be computed.
    let mut held: Option<PyBackedBytes> = None;
    for item in iter {
        let b = match item.and_then(|i| i.extract::<PyBackedBytes>().map_err(Into::into)) {
            Ok(b) => b,
            Err(e) => {
                log_exception(py, &e, "iterating the application's response");
                return fail(py, ex);
            }
        };
        if b.is_empty() {
            continue;
        }
        if let Some(prev) = held.take()
            && let Err(e) = send(py, ex, &prev, false)
        {
            crate::log::info(&format!("response: {e}"));
            return fail(py, ex);
        }
        held = Some(b);
    }
    if let Some(last) = held {
        let whole = !headers_sent(ex);
        if let Err(e) = send(py, ex, &last, whole) {
            crate::log::info(&format!("response: {e}"));
            return fail(py, ex);
        }
    }
    true
}

/// Runs the app for `req` on `conn`. Called with the GIL held.
pub fn handle(
    py: Python<'_>,
    app: Option<&Py<PyAny>>,
    consts: &EnvConsts,
    req: &Request,
    conn: Conn,
) -> Outcome {
    let ex: Shared = Arc::new(Mutex::new(Some(Exchange::new(
        conn,
        req.body.clone(),
        req.expect_continue,
        req.method == "HEAD",
        req.keep_alive,
        req.protocol.clone(),
    ))));
    let mut ok;
    match app {
        None => {
            crate::log::info(
                "--- no python application found, check your startup logs for errors ---",
            );
            ok = fail(py, &ex);
        }
        Some(app) => {
            let run = || -> PyResult<Bound<'_, PyAny>> {
                let input = Bound::new(py, Input { ex: ex.clone() })?.into_any();
                let env = environ::build(py, consts, req, input)?;
                let sr = Bound::new(py, StartResponse { ex: ex.clone() })?;
                app.bind(py).call1((env, sr))
            };
            match run() {
                Err(e) => {
                    log_exception(py, &e, "calling the application");
                    ok = fail(py, &ex);
                }
                Ok(result) => {
                    ok = write_body(py, &ex, &result);
                    if let Ok(true) = result.hasattr("close")
                        && let Err(e) = result.call_method0("close")
                    {
                        log_exception(py, &e, "in close() of the application's response");
                        ok = ok && fail(py, &ex);
                    }
                }
            }
        }
    }
    py.detach(|| {
        let Some(mut x) = ex.lock().unwrap_or_else(|p| p.into_inner()).take() else {
            return Outcome {
                status: 500,
                body_bytes: 0,
                headers: 0,
                header_bytes: 0,
                conn: None,
            };
        };
        let finished = ok && x.finish().is_ok();
        let reusable = finished && x.keep_alive && x.drain_body(64 * 1024);
        Outcome {
            status: if x.resp.code == 0 { 500 } else { x.resp.code },
            body_bytes: x.resp.body_bytes,
            headers: x.resp.headers.len(),
            header_bytes: x.resp.header_bytes,
            conn: reusable.then_some(x.conn),
        }
    })
}
