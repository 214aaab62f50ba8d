//! Serving from the installed packages inside a Debian 12 root (issue 4): the unit's own
//! ExecStart, User and Group start the server for trytond in /opt/gnuhealth/venv; nginx
//! (workers as www-data) proxies a JSON-RPC request through the 0660 socket. Once with
//! wsgid, once with the distribution's uWSGI, once with gunicorn from the app's
//! virtualenv, and once with wsgid on Debian 13 (Python 3.13). Driven by `ci/install/serve-cycle.sh`.

mod install_support;
use install_support::{run_cycle, v1};

/// Runs `serve-cycle.sh` on the current packages for one backend.
fn serve_cycle(family: &str, backend: &str, extra: &[&str], min_steps: usize) {
    let d = v1();
    let mut args = vec!["--family", family, "--backend", backend];
    args.extend_from_slice(extra);
    args.extend(["--dist", d.to_str().unwrap()]);
    run_cycle("serve-cycle.sh", &args, min_steps);
}

#[test]
fn serve_trytond_through_nginx_with_wsgid_backend() {
    serve_cycle("serve-wsgid", "wsgid", &[], 7);
}

#[test]
fn serve_trytond_through_nginx_with_uwsgi_backend() {
    serve_cycle("serve-uwsgi", "uwsgi", &[], 7);
}

#[test]
fn serve_trytond_through_nginx_with_gunicorn_backend() {
    // gunicorn from the app's virtualenv (the deb12-gunicorn root), HTTP on the 0660
    // socket, nginx proxy_pass; stopped with the unit's SIGTERM.
    serve_cycle(
        "serve-gunicorn",
        "gunicorn",
        &["--root", "deb12-gunicorn"],
        7,
    );
}

#[test]
fn serve_trytond_on_debian13_python313_with_wsgid_backend() {
    // The same wsgid package (abi3 extension, CPython >= 3.11) on Debian 13's Python 3.13.
    serve_cycle(
        "serve-deb13-wsgid",
        "wsgid",
        &["--root", "deb13-serve", "--python", "3.13"],
        7,
    );
}

#[test]
fn serve_on_a_migrated_ansible_host_with_adopted_accounts() {
    serve_cycle("serve-migration-uwsgi", "uwsgi", &["--migration"], 8);
}
