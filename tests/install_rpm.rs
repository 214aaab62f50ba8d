//! RPM install cycles (issue 4): the openSUSE Leap 15.6 stand-in with the host's zypper
//! and the RHEL 9 stand-in with rpm, both from the same .rpm files (the scriptlets must
//! detect the family: the app user's shell is that family's nologin), an unknown ID; plus the checks of
//! the rpm dependency names against real Leap package names
//! (`ci/install/leap-packages.txt`) and of the highest GLIBC symbol version in the
//! shipped binaries against the oldest supported release (`ci/install/glibc-floor.txt`).

mod install_support;
use install_support::{run_cycle, run_upgrade_cycle, v1};

fn rpm_cycle(root: &str, family: &str, tool: &str, extra: &[&str]) {
    let mut args = vec!["--root", root, "--family", family, "--tool", tool];
    args.extend_from_slice(extra);
    run_upgrade_cycle("rpm-cycle.sh", &args, 6);
}

#[test]
fn install_cycle_suse_leap156_zypper() {
    rpm_cycle("suse156", "suse156", "zypper", &["--distro", "suse"]);
}

#[test]
fn install_cycle_rhel9_rpm() {
    rpm_cycle("rhel9", "rhel9", "rpm", &["--distro", "rhel"]);
}

#[test]
fn install_cycle_rpm_unknown_os_id_takes_the_portable_path() {
    rpm_cycle("unknown-rpm", "unknown-id-rpm", "rpm", &["--unknown-id"]);
}

#[test]
fn rpm_dependencies_are_real_leap_package_names_and_glibc_fits_oldest_release() {
    let a = v1();
    run_cycle("package-facts.sh", &["--dist", a.to_str().unwrap()], 2);
}
