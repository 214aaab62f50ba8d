//! Command-line definitions (clap derive). Also used by `gen-docs` to write man pages
//! and shell completions, so they never drift from the parser.

use clap::{Parser, Subcommand};
use std::path::PathBuf;

/// Build native .deb and .rpm packages for wsgid and its WSGI app instances.
#[derive(Debug, Parser)]
#[command(name = "wsgi-pack", version, about, long_about = None)]
pub struct Cli {
    /// Project root holding packaging/, distros/ and templates/.
    #[arg(long, global = true, default_value = ".")]
    pub root: PathBuf,
    /// No progress lines on stderr.
    #[arg(short, long, global = true)]
    pub quiet: bool,
    #[command(subcommand)]
    pub command: Command,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Build packages (default: every definition for every default family) into --out.
    Build {
        /// Only these families (repeatable): debian, suse, rhel.
        #[arg(long = "family", value_name = "FAMILY")]
        families: Vec<String>,
        /// Only these packages or definitions (repeatable), e.g. gnuhealth-wsgid, wsgid.
        #[arg(long = "package", value_name = "PACKAGE")]
        packages: Vec<String>,
        /// Output directory.
        #[arg(long, default_value = "dist")]
        out: PathBuf,
    },
    /// Validate every definition, family and template without writing anything.
    Check,
    /// Print the rendered files and scripts of one package.
    Render {
        /// Package or definition name.
        #[arg(long)]
        package: String,
        /// Family name.
        #[arg(long)]
        family: String,
        /// Backend of an instance (wsgid, uwsgi); default: every backend listed.
        #[arg(long)]
        backend: Option<String>,
    },
    /// Write man pages and shell completions generated from this CLI into --out.
    GenDocs {
        /// Output directory.
        #[arg(long, default_value = "target/wsgi-pack/docs")]
        out: PathBuf,
    },
}
