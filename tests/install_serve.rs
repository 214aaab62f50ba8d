//! Serving from the installed packages inside a Debian 12 root (issue 4): the unit's own
//! ExecStart, User and Group start the server for trytond in /opt/gnuhealth/venv; nginx
//! (workers as www-data) proxies a JSON-RPC request through the 0660 socket. Once with
//! wsgid, once with the distribution's uWSGI. Driven by `ci/install/serve-cycle.sh`.

mod install_support;
use install_support::{run_cycle, v1};

#[test]
fn serve_trytond_through_nginx_with_wsgid_backend() {
    let d = v1();
    run_cycle(
        "serve-cycle.sh",
        &[
            "--family",
            "serve-wsgid",
            "--backend",
            "wsgid",
            "--dist",
            d.to_str().unwrap(),
        ],
        7,
    );
}

#[test]
fn serve_trytond_through_nginx_with_uwsgi_backend() {
    let d = v1();
    run_cycle(
        "serve-cycle.sh",
        &[
            "--family",
            "serve-uwsgi",
            "--backend",
            "uwsgi",
            "--dist",
            d.to_str().unwrap(),
        ],
        7,
    );
}

#[test]
fn serve_on_a_migrated_ansible_host_with_adopted_accounts() {
    let d = v1();
    run_cycle(
        "serve-cycle.sh",
        &[
            "--family",
            "serve-migration-uwsgi",
            "--backend",
            "uwsgi",
            "--migration",
            "--dist",
            d.to_str().unwrap(),
        ],
        8,
    );
}
