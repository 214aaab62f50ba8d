//! Debian-family install cycles in roots the tests create (issue 4): Debian 12
//! (debootstrap), Debian 13 (mmdebstrap), a Debian root labelled Ubuntu 24.04, a root
//! seeded as a hand/Ansible install (migration), and a root with an unknown os-release
//! ID. Driven by `ci/install/debian-cycle.sh`; roots come from `ci/roots/`.

mod install_support;
use install_support::run_upgrade_cycle;

fn debian_cycle(root: &str, family: &str, tag: &str, extra: &[&str], min_steps: usize) {
    let mut args = vec!["--root", root, "--family", family, "--tag", tag];
    args.extend_from_slice(extra);
    run_upgrade_cycle("debian-cycle.sh", &args, min_steps);
}

#[test]
fn install_cycle_debian12_install_reinstall_upgrade_remove_purge() {
    debian_cycle("deb12", "debian12", "deb12", &[], 6);
}

#[test]
fn install_cycle_debian13_both_instances() {
    debian_cycle(
        "deb13",
        "debian13",
        "deb13",
        &["--instances", "gnuhealth thalamus"],
        6,
    );
}

#[test]
fn install_cycle_ubuntu2404_labelled_root() {
    debian_cycle("ubuntu2404", "ubuntu2404", "ubuntu deb12", &[], 6);
}

#[test]
fn install_cycle_migration_adopts_ansible_accounts_and_unit() {
    debian_cycle("deb12", "migration", "deb12", &["--migration"], 6);
}

#[test]
fn install_cycle_unknown_os_id_takes_the_portable_path() {
    debian_cycle("unknown", "unknown-id", "deb12", &["--unknown-id"], 6);
}
