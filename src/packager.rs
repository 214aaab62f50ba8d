//! One interface over the package writers (`deb/`, `rpm/`): both consume the same
//! `PackagePlan`.

use crate::error::Result;
use crate::model::Format;
use crate::render::PackagePlan;
use std::path::Path;

/// A package writer.
pub trait Packager: Sync {
    /// The format it writes.
    fn format(&self) -> Format;
    /// Writes `plan` as a package file at `out`.
    fn write(&self, plan: &PackagePlan, out: &Path) -> Result<()>;
}

/// The .deb writer (`crate::deb`).
pub struct Deb;
/// The .rpm writer (`crate::rpm`).
pub struct Rpm;

impl Packager for Deb {
    fn format(&self) -> Format {
        Format::Deb
    }
    fn write(&self, plan: &PackagePlan, out: &Path) -> Result<()> {
        crate::deb::write(plan, out)
    }
}

impl Packager for Rpm {
    fn format(&self) -> Format {
        Format::Rpm
    }
    fn write(&self, plan: &PackagePlan, out: &Path) -> Result<()> {
        crate::rpm::write(plan, out)
    }
}

/// The writer of `format`.
pub fn packager(format: Format) -> &'static dyn Packager {
    match format {
        Format::Deb => &Deb,
        Format::Rpm => &Rpm,
    }
}
