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
        /// Backend of an instance (wsgid, uwsgi, gunicorn); default: every backend listed.
        #[arg(long)]
        backend: Option<String>,
    },
    /// Add built packages to the signed apt and rpm-md repositories under --repo.
    ///
    /// New metadata is written beside the old and switched in with one rename; packages
    /// already published with identical content are skipped; a conflicting package, a
    /// corrupt package or a bad key is an error and leaves the repository unchanged.
    Publish {
        /// Built packages: a directory (its *.deb and *.rpm) or single files (repeatable).
        #[arg(long = "dist", value_name = "PATH", default_value = "dist")]
        dist: Vec<PathBuf>,
        /// Repository root: apt/ (pool, dists), rpm/ (rpm-md), wsgi-pack.asc (public key).
        #[arg(long, default_value = "repo")]
        repo: PathBuf,
        /// apt suite (Release `Suite:`).
        #[arg(long, default_value = "stable")]
        suite: String,
        /// apt codename (the dists/ directory; default: the suite).
        #[arg(long)]
        codename: Option<String>,
        /// apt component.
        #[arg(long, default_value = "main")]
        component: String,
        /// Architectures always listed in Release (besides those of the packages).
        #[arg(long = "arch", value_name = "ARCH", default_value = "amd64")]
        architectures: Vec<String>,
        /// Release `Origin:` and `Label:`.
        #[arg(long, default_value = "wsgi-pack")]
        origin: String,
        /// OpenPGP secret key file (armored or binary; RSA 4096 recommended).
        #[arg(long, value_name = "FILE", required_unless_present = "unsigned")]
        key: Option<PathBuf>,
        /// Environment variable holding the key's passphrase.
        #[arg(long, value_name = "VAR")]
        passphrase_env: Option<String>,
        /// Publish without signatures (clients then need trusted=yes / gpgcheck=0).
        #[arg(long, conflicts_with = "key")]
        unsigned: bool,
        /// Copy packages into the repository instead of hard-linking them (use it when
        /// a tool may rewrite the input files in place; see ARCHITECTURE.md).
        #[arg(long)]
        copy: bool,
        /// Versions kept per package and architecture.
        #[arg(long, default_value_t = 3)]
        keep: usize,
        /// Metadata generations (and by-hash files) kept for mirrors in mid-sync.
        #[arg(long, default_value_t = 5)]
        keep_generations: usize,
    },
    /// OpenPGP key commands.
    Key {
        #[command(subcommand)]
        command: KeyCommand,
    },
    /// Write man pages and shell completions generated from this CLI into --out.
    GenDocs {
        /// Output directory.
        #[arg(long, default_value = "target/wsgi-pack/docs")]
        out: PathBuf,
    },
}

/// `wsgi-pack key` subcommands.
#[derive(Debug, Subcommand)]
pub enum KeyCommand {
    /// Print (or write to --out) the ASCII-armored public key of a secret key file, for
    /// apt's signed-by= and rpm --import / zypper.
    Export {
        /// OpenPGP secret key file.
        #[arg(long, value_name = "FILE")]
        key: PathBuf,
        /// Environment variable holding the key's passphrase (optional: only checks it).
        #[arg(long, value_name = "VAR")]
        passphrase_env: Option<String>,
        /// Output file (default: stdout).
        #[arg(long)]
        out: Option<PathBuf>,
    },
}
