//! A project tree (`packaging/`, `distros/`, `templates/`): loading, selection,
//! the server build step, and the atomic build into the output directory.

use crate::epoch::{EpochSource, source_date_epoch};
use crate::error::{Error, Location, Result};
use crate::listener::{Event, Listener};
use crate::model::{
    Backend, BuildStep, Definition, Family, Format, Kind, load_definition, load_family,
};
use crate::render::{PackagePlan, PlanInput, Renderer, plan};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

/// A loaded project.
pub struct Project {
    pub root: PathBuf,
    pub families: Vec<Family>,
    pub definitions: Vec<Definition>,
    pub renderer: Renderer,
}

/// One package to build: indices into the project, and the backend.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Job {
    pub definition: usize,
    pub family: usize,
    pub backend: Option<Backend>,
}

/// Options of `build`.
#[derive(Debug, Clone, Default)]
pub struct BuildOptions {
    /// Family names; empty = every family built by default.
    pub families: Vec<String>,
    /// Package or definition names; empty = all.
    pub packages: Vec<String>,
    /// Output directory.
    pub out: PathBuf,
    /// Ask the build step to be quiet (CARGO_TERM_QUIET) and drop its stdout.
    pub quiet: bool,
}

fn toml_files(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut v = Vec::new();
    let rd = std::fs::read_dir(dir).map_err(|e| Error::io(dir, "cannot list", e))?;
    for e in rd {
        let p = e.map_err(|e| Error::io(dir, "cannot list", e))?.path();
        if p.extension().is_some_and(|x| x == "toml") {
            v.push(p);
        }
    }
    v.sort();
    Ok(v)
}

impl Project {
    /// Loads and validates every definition, family and template under `root`.
    pub fn load(root: &Path) -> Result<Self> {
        let root = root.to_path_buf();
        let mut families = Vec::new();
        for p in toml_files(&root.join("distros"))? {
            let rel = p.strip_prefix(&root).expect("under root").to_path_buf();
            families.push(load_family(&root, &rel)?);
        }
        let mut definitions = Vec::new();
        for p in toml_files(&root.join("packaging"))? {
            let rel = p.strip_prefix(&root).expect("under root").to_path_buf();
            definitions.push(load_definition(&root, &rel)?);
        }
        let mut names = std::collections::BTreeMap::new();
        for d in &definitions {
            if let Some(prev) = names.insert(d.meta.name.clone(), d.path.clone()) {
                return Err(Error::Invalid {
                    at: Location {
                        file: d.path.clone(),
                        line: None,
                        field: Some("package.name".into()),
                    },
                    message: format!(
                        "package name `{}` is also used by {}",
                        d.meta.name,
                        prev.display()
                    ),
                });
            }
        }
        let renderer = Renderer::new(&root.join("templates"))?;
        Ok(Self {
            root,
            families,
            definitions,
            renderer,
        })
    }

    /// rpm families (their facts go into every rpm's scriptlets).
    pub fn rpm_families(&self) -> Vec<Family> {
        self.families
            .iter()
            .filter(|f| f.format == Format::Rpm)
            .cloned()
            .collect()
    }

    /// The jobs selected by family and package names.
    pub fn select(&self, families: &[String], packages: &[String]) -> Result<Vec<Job>> {
        for f in families {
            if !self.families.iter().any(|x| &x.name == f) {
                let known: Vec<_> = self.families.iter().map(|f| f.name.as_str()).collect();
                return Err(Error::Selection(format!(
                    "unknown family `{f}` (known: {})",
                    known.join(", ")
                )));
            }
        }
        let mut jobs = Vec::new();
        let mut matched = vec![false; packages.len()];
        for (fi, fam) in self.families.iter().enumerate() {
            let wanted = if families.is_empty() {
                fam.build_by_default
            } else {
                families.contains(&fam.name)
            };
            if !wanted {
                continue;
            }
            for (di, def) in self.definitions.iter().enumerate() {
                for (pkg, backend) in def.packages() {
                    let hit = packages.is_empty()
                        || packages.iter().enumerate().any(|(i, p)| {
                            let m = *p == pkg || *p == def.meta.name;
                            if m {
                                matched[i] = true;
                            }
                            m
                        });
                    if hit {
                        jobs.push(Job {
                            definition: di,
                            family: fi,
                            backend,
                        });
                    }
                }
            }
        }
        if let Some(i) = matched.iter().position(|m| !m) {
            let known: Vec<String> = self
                .definitions
                .iter()
                .flat_map(|d| d.packages().into_iter().map(|p| p.0))
                .collect();
            return Err(Error::Selection(format!(
                "unknown package `{}` (known: {})",
                packages[i],
                known.join(", ")
            )));
        }
        Ok(jobs)
    }

    /// Runs the build step of a server definition and returns its artifacts as
    /// (dest, mode, bytes).
    pub fn run_build_step(
        &self,
        def: &Definition,
        step: &BuildStep,
        epoch: u64,
        quiet: bool,
        listener: &dyn Listener,
    ) -> Result<Vec<crate::render::Artifact>> {
        let target = self.root.join(&step.target_dir);
        let shown = step.command.join(" ");
        listener.event(Event::BuildStep {
            definition: &def.path,
            command: &shown,
        });
        let t0 = Instant::now();
        let mut cmd = Command::new(&step.command[0]);
        cmd.args(&step.command[1..])
            .current_dir(&self.root)
            .envs(&step.env)
            .env("CARGO_TARGET_DIR", &target)
            .env("SOURCE_DATE_EPOCH", epoch.to_string())
            .env_remove("RUSTFLAGS");
        if quiet {
            cmd.env("CARGO_TERM_QUIET", "true")
                .stdout(std::process::Stdio::null());
        }
        if step.remap_paths {
            // Paths of the checkout and of the cargo registry must not reach the
            // binaries (panic locations, debug strings): remap both to fixed names.
            let cargo_home = std::env::var_os("CARGO_HOME")
                .map(PathBuf::from)
                .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")))
                .unwrap_or_else(|| PathBuf::from("/root/.cargo"));
            let root = std::fs::canonicalize(&self.root).unwrap_or_else(|_| self.root.clone());
            let flags = [
                format!("--remap-path-prefix={}=/usr/src/wsgid", root.display()),
                format!(
                    "--remap-path-prefix={}=/usr/src/cargo",
                    cargo_home.display()
                ),
            ];
            cmd.env("CARGO_ENCODED_RUSTFLAGS", flags.join("\u{1f}"));
        }
        let at = Location {
            file: def.path.clone(),
            line: Some(step.line),
            field: Some("build.command".into()),
        };
        let status = cmd.status().map_err(|e| Error::BuildStep {
            at: at.clone(),
            command: shown.clone(),
            status: e.to_string(),
        })?;
        if !status.success() {
            return Err(Error::BuildStep {
                at,
                command: shown,
                status: status.to_string(),
            });
        }
        listener.event(Event::BuildStepDone {
            definition: &def.path,
            seconds: t0.elapsed().as_secs_f64(),
        });
        let mut out = Vec::new();
        for a in &step.artifacts {
            let p = target.join(&a.source);
            let bytes = crate::content::Content::artifact(&p).map_err(|_| Error::MissingFile {
                at: Location {
                    file: def.path.clone(),
                    line: Some(a.source_line),
                    field: Some("build.artifact.source".into()),
                },
                missing: p.clone(),
                hint: " after the build step (check `source`, relative to `target_dir`)".into(),
            })?;
            out.push((a.dest.clone(), a.mode, bytes));
        }
        Ok(out)
    }

    /// Plans every selected job. With `run_build = Some(quiet)` server definitions run
    /// their build step first; with `None` (`render`, `check`) their artifacts are
    /// placeholders that are never written into a package.
    pub fn plan_jobs(
        &self,
        jobs: &[Job],
        epoch: u64,
        run_build: Option<bool>,
        listener: &dyn Listener,
    ) -> Result<Vec<PackagePlan>> {
        let rpm_families = self.rpm_families();
        let mut artifacts: std::collections::BTreeMap<usize, Vec<crate::render::Artifact>> =
            Default::default();
        let mut plans = Vec::new();
        for job in jobs {
            let def = &self.definitions[job.definition];
            if let Kind::Server(step) = &def.kind {
                if let std::collections::btree_map::Entry::Vacant(slot) =
                    artifacts.entry(job.definition)
                {
                    let a = if let Some(quiet) = run_build {
                        self.run_build_step(def, step, epoch, quiet, listener)?
                    } else {
                        step.artifacts
                            .iter()
                            .map(|a| {
                                let text = format!(
                                    "(artifact {} built by the step)\n",
                                    a.source.display()
                                );
                                (
                                    a.dest.clone(),
                                    a.mode,
                                    crate::content::Content::from(text.into_bytes()),
                                )
                            })
                            .collect()
                    };
                    slot.insert(a);
                }
            }
            let empty = Vec::new();
            let arts = artifacts.get(&job.definition).unwrap_or(&empty);
            plans.push(plan(&PlanInput {
                renderer: &self.renderer,
                definition: def,
                family: &self.families[job.family],
                backend: job.backend,
                rpm_families: &rpm_families,
                artifacts: arts,
                source_date_epoch: epoch,
            })?);
        }
        Ok(plans)
    }

    /// Validates everything without writing: every definition x family x backend
    /// renders (server build steps are not run).
    pub fn check(&self) -> Result<usize> {
        let all: Vec<String> = self.families.iter().map(|f| f.name.clone()).collect();
        let jobs = self.select(&all, &[])?;
        let (epoch, _) = source_date_epoch(&self.root);
        Ok(self.plan_jobs(&jobs, epoch, None, &crate::Silent)?.len())
    }

    /// Builds the selected packages into `opts.out`: everything is written into a
    /// temporary directory beside it first; any error leaves `opts.out` unchanged.
    pub fn build(&self, opts: &BuildOptions, listener: &dyn Listener) -> Result<Vec<PathBuf>> {
        let (epoch, src) = source_date_epoch(&self.root);
        listener.event(Event::Epoch {
            value: epoch,
            source: match src {
                EpochSource::Env => "SOURCE_DATE_EPOCH",
                EpochSource::Git => "last git commit",
                EpochSource::Fallback => "fixed fallback",
            },
        });
        let jobs = self.select(&opts.families, &opts.packages)?;
        let plans = self.plan_jobs(&jobs, epoch, Some(opts.quiet), listener)?;
        let out = if opts.out.is_absolute() {
            opts.out.clone()
        } else {
            std::env::current_dir()
                .map_err(|e| Error::io(".", "cannot get the current directory", e))?
                .join(&opts.out)
        };
        let parent = out.parent().unwrap_or(Path::new("/")).to_path_buf();
        std::fs::create_dir_all(&parent).map_err(|e| Error::io(&parent, "cannot create", e))?;
        let tmp = tempfile::Builder::new()
            .prefix(".wsgi-pack-build.")
            .tempdir_in(&parent)
            .map_err(|e| Error::io(&parent, "cannot create a temporary directory", e))?;
        let mut written = Vec::new();
        for p in &plans {
            let t0 = Instant::now();
            let name = p.file_name();
            let path = tmp.path().join(&name);
            crate::packager(p.format).write(p, &path)?;
            let bytes = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
            listener.event(Event::Package {
                file: &name,
                bytes,
                seconds: t0.elapsed().as_secs_f64(),
            });
            written.push(name);
        }
        std::fs::create_dir_all(&out).map_err(|e| Error::io(&out, "cannot create", e))?;
        let mut result = Vec::new();
        for name in &written {
            let dest = out.join(name);
            std::fs::rename(tmp.path().join(name), &dest)
                .map_err(|e| Error::io(&dest, "cannot move into place", e))?;
            result.push(dest);
        }
        listener.event(Event::Published {
            dir: &out,
            count: result.len(),
        });
        Ok(result)
    }
}
