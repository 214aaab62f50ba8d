//! Loading the WSGI callable: `pythonpath` entries first on sys.path, then `module`
//! (`importlib.import_module`) or `wsgi-file` (loaded as a source file whatever its
//! name, like uWSGI's `uwsgi_file_*` modules), then the `callable` attribute.

use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use wsgid::config::{AppSpec, Config};

/// Prepends the `pythonpath` entries to sys.path (first entry first).
pub fn add_pythonpath(py: Python<'_>, cfg: &Config) -> PyResult<()> {
    let path = py.import("sys")?.getattr("path")?;
    for (i, p) in cfg.pythonpath.iter().enumerate() {
        path.call_method1("insert", (i, p.display().to_string()))?;
    }
    Ok(())
}

/// Imports the application and returns the callable.
pub fn load(py: Python<'_>, cfg: &Config) -> PyResult<Py<PyAny>> {
    let (module, callable) = match &cfg.app {
        AppSpec::Module { module, callable } => {
            let m = py
                .import("importlib")?
                .call_method1("import_module", (module,))?;
            (m, callable)
        }
        AppSpec::File { path, callable } => {
            let path = path.display().to_string();
            let name: String = format!(
                "uwsgi_file_{}",
                path.chars()
                    .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
                    .collect::<String>()
            );
            let machinery = py.import("importlib.machinery")?;
            let util = py.import("importlib.util")?;
            let loader = machinery
                .getattr("SourceFileLoader")?
                .call1((name.as_str(), path.as_str()))?;
            let spec = util.call_method1("spec_from_loader", (name.as_str(), &loader))?;
            let m = util.call_method1("module_from_spec", (&spec,))?;
            py.import("sys")?
                .getattr("modules")?
                .set_item(name.as_str(), &m)?;
            loader.call_method1("exec_module", (&m,))?;
            (m, callable)
        }
    };
    let app = module.getattr(callable.as_str())?;
    if !app.is_callable() {
        return Err(PyTypeError::new_err(format!(
            "wsgid: `{callable}` is not callable"
        )));
    }
    Ok(app.unbind())
}
