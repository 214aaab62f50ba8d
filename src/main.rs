//! The `wsgi-pack` binary: argument parsing, progress on stderr, exit codes.
//! Everything else lives in the library.

mod cli;

use anyhow::{Context, Result, bail};
use clap::{CommandFactory, Parser};
use cli::{Cli, Command, KeyCommand};
use std::io::Write;
use wsgi_pack::render::Script;
use wsgi_pack::{BuildOptions, Event, Listener, Project, Silent};

/// Prints progress lines on stderr.
struct Stderr;

impl Listener for Stderr {
    fn event(&self, event: Event<'_>) {
        let line = match event {
            Event::Epoch { value, source } => format!("SOURCE_DATE_EPOCH={value} ({source})"),
            Event::BuildStep {
                definition,
                command,
            } => format!("build step of {}: {command}", definition.display()),
            Event::BuildStepDone {
                definition,
                seconds,
            } => format!(
                "build step of {} done in {seconds:.1} s",
                definition.display()
            ),
            Event::Package {
                file,
                bytes,
                seconds,
            } => format!("wrote {file} ({bytes} bytes, {seconds:.2} s)"),
            Event::Published { dir, count } => format!("{count} packages in {}", dir.display()),
            _ => return,
        };
        eprintln!("wsgi-pack: {line}");
    }
}

fn gen_docs(out: &std::path::Path) -> Result<()> {
    let man = out.join("man");
    let comp = out.join("completions");
    std::fs::create_dir_all(&man).with_context(|| format!("creating {}", man.display()))?;
    std::fs::create_dir_all(&comp).with_context(|| format!("creating {}", comp.display()))?;
    let cmd = Cli::command();
    clap_mangen::generate_to(cmd.clone(), &man).context("writing man pages")?;
    for shell in [
        clap_complete::Shell::Bash,
        clap_complete::Shell::Zsh,
        clap_complete::Shell::Fish,
    ] {
        clap_complete::generate_to(shell, &mut cmd.clone(), "wsgi-pack", &comp)
            .context("writing completions")?;
    }
    Ok(())
}

fn run(cli: Cli) -> Result<()> {
    let listener: &dyn Listener = if cli.quiet { &Silent } else { &Stderr };
    match cli.command {
        Command::GenDocs { out } => gen_docs(&out),
        Command::Publish {
            dist,
            repo,
            suite,
            codename,
            component,
            architectures,
            origin,
            key,
            passphrase_env,
            unsigned,
            copy,
            keep,
            keep_generations,
        } => {
            use wsgi_pack::repo;
            if key.is_none() && !unsigned {
                bail!("--key FILE is required (or --unsigned)");
            }
            let mut packages = Vec::new();
            for d in &dist {
                let (debs, rpms) = repo::collect_packages(d)?;
                packages.extend(debs);
                packages.extend(rpms);
            }
            if packages.is_empty() {
                bail!(
                    "no .deb or .rpm in {}",
                    dist.iter()
                        .map(|d| d.display().to_string())
                        .collect::<Vec<_>>()
                        .join(", ")
                );
            }
            let mut opts = repo::PublishOptions {
                repo: repo.clone(),
                key,
                passphrase_env,
                keep_versions: keep,
                keep_generations,
                copy,
                ..Default::default()
            };
            opts.apt.suite = suite;
            opts.apt.codename = codename;
            opts.apt.component = component;
            opts.apt.architectures = architectures;
            opts.apt.label = origin.clone();
            opts.apt.origin = origin;
            let t0 = std::time::Instant::now();
            let report = repo::publish(&packages, &opts)?;
            if !cli.quiet {
                eprintln!(
                    "wsgi-pack: apt: {} added, {} unchanged, {} retired, {} in the suite; rpm: {} added, {} unchanged, {} retired, {} in the repository; {:.2} s",
                    report.apt.added.len(),
                    report.apt.unchanged,
                    report.apt.retired.len(),
                    report.apt.total,
                    report.rpm.added.len(),
                    report.rpm.already_published.len(),
                    report.rpm.retired.len(),
                    report.rpm.packages,
                    t0.elapsed().as_secs_f64()
                );
            }
            Ok(())
        }
        Command::Key {
            command:
                KeyCommand::Export {
                    key,
                    passphrase_env,
                    out,
                },
        } => {
            // With --passphrase-env the key is also unlocked (proves the passphrase);
            // without, only its public part is read.
            let armored = match passphrase_env.as_deref() {
                Some(var) => {
                    wsgi_pack::repo::Signer::from_file(&key, Some(var))?.public_key_armored()?
                }
                None => wsgi_pack::repo::Signer::export_public(&key)?,
            };
            match out {
                Some(path) => std::fs::write(&path, &armored)
                    .with_context(|| format!("writing {}", path.display()))?,
                None => std::io::stdout().lock().write_all(armored.as_bytes())?,
            }
            Ok(())
        }
        Command::Check => {
            let project = Project::load(&cli.root)?;
            let n = project.check()?;
            if !cli.quiet {
                eprintln!(
                    "wsgi-pack: {} definitions, {} families, {n} packages: ok",
                    project.definitions.len(),
                    project.families.len()
                );
            }
            Ok(())
        }
        Command::Build {
            families,
            packages,
            out,
        } => {
            let project = Project::load(&cli.root)?;
            let out = if out.is_absolute() || cli.root == std::path::Path::new(".") {
                out
            } else {
                cli.root.join(out)
            };
            let written = project.build(
                &BuildOptions {
                    families,
                    packages,
                    out,
                    quiet: cli.quiet,
                },
                listener,
            )?;
            let mut stdout = std::io::stdout().lock();
            for p in written {
                writeln!(stdout, "{}", p.display())?;
            }
            Ok(())
        }
        Command::Render {
            package,
            family,
            backend,
        } => {
            let project = Project::load(&cli.root)?;
            let mut jobs = project.select(
                std::slice::from_ref(&family),
                std::slice::from_ref(&package),
            )?;
            if let Some(b) = &backend {
                jobs.retain(|j| j.backend.is_some_and(|x| x.name() == b));
                if jobs.is_empty() {
                    bail!("package `{package}` has no backend `{b}`");
                }
            }
            let (epoch, _) = wsgi_pack::epoch::source_date_epoch(&project.root);
            let plans = project.plan_jobs(&jobs, epoch, None, &Silent)?;
            let mut stdout = std::io::stdout().lock();
            for p in plans {
                writeln!(stdout, "==> {} ({})", p.file_name(), p.family)?;
                if let Some(c) = &p.control {
                    writeln!(stdout, "--- DEBIAN/control\n{c}")?;
                }
                for f in &p.files {
                    let flag = if f.config { " [config]" } else { "" };
                    writeln!(stdout, "--- {} (mode {:04o}){flag}", f.path, f.mode)?;
                    match (&f.template, std::str::from_utf8(&f.content)) {
                        (Some(t), Ok(text)) if !f.path.ends_with(".gz") => {
                            let _ = t;
                            writeln!(stdout, "{text}")?
                        }
                        _ => writeln!(stdout, "({} bytes)", f.content.len())?,
                    }
                }
                for (s, text) in &p.scripts {
                    let name = match s {
                        Script::TriggerinNginx => "%triggerin -- nginx".to_string(),
                        s => s.name().to_string(),
                    };
                    writeln!(stdout, "--- script {name}\n{text}")?;
                }
            }
            Ok(())
        }
    }
}

fn main() {
    let cli = Cli::parse();
    if let Err(e) = run(cli) {
        eprintln!("wsgi-pack: error: {e:#}");
        std::process::exit(1);
    }
}
