//! piuparts on the .debs (issue 4): install/purge, and upgrade from the previous version
//! served from a local apt-ftparchive repository. Driven by `ci/install/piuparts-cycle.sh`.

mod install_support;
use install_support::{run_cycle, v1, v2};

#[test]
fn piuparts_install_purge_and_upgrade_from_previous_version() {
    let (a, b) = (v1(), v2());
    run_cycle(
        "piuparts-cycle.sh",
        &[
            "--dist",
            a.to_str().unwrap(),
            "--dist-new",
            b.to_str().unwrap(),
        ],
        2,
    );
}
