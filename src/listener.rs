//! Progress reporting: the library never prints; the binary implements `Listener`.

use std::path::Path;

/// Progress events of a build.
#[derive(Debug)]
#[non_exhaustive]
pub enum Event<'a> {
    /// SOURCE_DATE_EPOCH in use and where it came from.
    Epoch { value: u64, source: &'a str },
    /// A definition's build step starts.
    BuildStep {
        definition: &'a Path,
        command: &'a str,
    },
    /// A build step finished.
    BuildStepDone { definition: &'a Path, seconds: f64 },
    /// A package file was written (into the temporary directory).
    Package {
        file: &'a str,
        bytes: u64,
        seconds: f64,
    },
    /// Packages were moved into the output directory.
    Published { dir: &'a Path, count: usize },
}

/// Receives progress events.
pub trait Listener {
    /// Called for each event, in order.
    fn event(&self, event: Event<'_>);
}

/// A listener that ignores everything (tests, `-q`).
pub struct Silent;

impl Listener for Silent {
    fn event(&self, _: Event<'_>) {}
}
