//! piuparts on the .debs (issue 4): install/purge, and upgrade from the previous version
//! served from a local apt-ftparchive repository. Driven by `ci/install/piuparts-cycle.sh`.

mod install_support;
use install_support::run_upgrade_cycle;

#[test]
fn piuparts_install_purge_and_upgrade_from_previous_version() {
    run_upgrade_cycle("piuparts-cycle.sh", &[], 2);
}
