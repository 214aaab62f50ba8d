//! Command line: uWSGI's option names as `--name value` / `--name=value` flags, plus
//! `--ini FILE[:section]` (also a bare `FILE.ini`), `--check-config`, `--version`, `--help`.
//!
//! Options are applied in command-line order with ini files expanded where they appear,
//! as uWSGI does: a later scalar value wins, list options accumulate.

use std::path::{Path, PathBuf};

use super::ini::parse_ini;
use super::options::{Kind, lookup};
use super::{ConfigError, Origin, RawEntry};

/// What the command line asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mode {
    Run,
    CheckConfig,
    Version,
    Help,
}

/// The parsed command line: the mode, the raw options in order, the ini files read.
#[derive(Debug, Clone)]
pub struct Invocation {
    pub mode: Mode,
    pub entries: Vec<RawEntry>,
    pub ini_files: Vec<PathBuf>,
}

/// Splits `file.ini:section` (the section part may not contain `/`).
pub fn split_ini_arg(arg: &str) -> (&str, &str) {
    match arg.rsplit_once(':') {
        Some((f, s)) if !s.is_empty() && !s.contains('/') && !f.is_empty() => (f, s),
        _ => (arg, "uwsgi"),
    }
}

/// Parses `args` (without the program name). `cwd` makes ini paths absolute; `env`
/// serves `$(VAR)`; `read` reads a file (tests pass a fake).
pub fn parse_args(
    args: &[String],
    cwd: &Path,
    env: &dyn Fn(&str) -> Option<String>,
    read: &dyn Fn(&Path) -> std::io::Result<String>,
    host: &str,
) -> Result<Invocation, ConfigError> {
    let mut inv = Invocation {
        mode: Mode::Run,
        entries: Vec::new(),
        ini_files: Vec::new(),
    };
    let mut i = 0;
    while i < args.len() {
        let arg = &args[i];
        let index = i + 1;
        i += 1;
        let origin = Origin::Arg { index };
        let (name, inline) = if let Some(long) = arg.strip_prefix("--") {
            match long.split_once('=') {
                Some((n, v)) => (n.to_string(), Some(v.to_string())),
                None => (long.to_string(), None),
            }
        } else if split_ini_arg(arg).0.ends_with(".ini") && !arg.starts_with('-') {
            ("ini".to_string(), Some(arg.clone()))
        } else {
            return Err(ConfigError::Syntax {
                origin,
                message: format!(
                    "unexpected argument `{arg}` (options are --name value; see wsgid --help)"
                ),
            });
        };
        match name.as_str() {
            "check-config" => {
                inv.mode = Mode::CheckConfig;
                continue;
            }
            "version" => {
                inv.mode = Mode::Version;
                continue;
            }
            "help" => {
                inv.mode = Mode::Help;
                continue;
            }
            "ini" => {
                let value = match inline {
                    Some(v) => v,
                    None => take_value(args, &mut i, &name, &origin)?,
                };
                let (file, section) = split_ini_arg(&value);
                let path = cwd.join(file);
                let text = read(&path).map_err(|e| ConfigError::Read {
                    path: path.clone(),
                    source: e,
                })?;
                for e in parse_ini(&text, &path, section, env, host)? {
                    // uWSGI: a key that is no option but is used as `%(key)` defines a
                    // custom placeholder. Any other unknown key stays an error.
                    if lookup(&e.key).is_none() && text.contains(&format!("%({})", e.key)) {
                        continue;
                    }
                    inv.entries.push(RawEntry {
                        name: e.key,
                        value: e.value,
                        origin: e.origin,
                    });
                }
                inv.ini_files.push(path);
                continue;
            }
            _ => {}
        }
        let Some(spec) = lookup(&name) else {
            return Err(ConfigError::Unknown { name, origin });
        };
        let value = match (inline, spec.kind) {
            (Some(v), _) => v,
            (None, Kind::Flag | Kind::Noop | Kind::Warn) => {
                // Flags take no separate argument; `plugins python3` style is allowed.
                if spec.kind != Kind::Flag
                    && args.get(i).is_some_and(|n| !n.starts_with('-'))
                    && !args[i].ends_with(".ini")
                {
                    i += 1;
                    args[i - 1].clone()
                } else {
                    "true".to_string()
                }
            }
            (None, Kind::Str) if spec.name == "chmod-socket" => {
                if args.get(i).is_some_and(|n| !n.starts_with('-')) {
                    i += 1;
                    args[i - 1].clone()
                } else {
                    "true".to_string()
                }
            }
            (None, _) => take_value(args, &mut i, &name, &origin)?,
        };
        inv.entries.push(RawEntry {
            name,
            value,
            origin,
        });
    }
    Ok(inv)
}

fn take_value(
    args: &[String],
    i: &mut usize,
    name: &str,
    origin: &Origin,
) -> Result<String, ConfigError> {
    match args.get(*i) {
        Some(v) => {
            *i += 1;
            Ok(v.clone())
        }
        None => Err(ConfigError::Syntax {
            origin: origin.clone(),
            message: format!("--{name} needs a value"),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(args: &[&str]) -> Result<Invocation, ConfigError> {
        let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        let read = |p: &Path| {
            if p == Path::new("/cwd/a.ini") {
                Ok(
                    "[uwsgi]\nprocesses = 3\n[other]\nprocesses = 7\nbase = /x\nchdir = %(base)\n"
                        .to_string(),
                )
            } else {
                Err(std::io::Error::from(std::io::ErrorKind::NotFound))
            }
        };
        parse_args(&args, Path::new("/cwd"), &|_| None, &read, "h")
    }

    #[test]
    fn order_and_forms() {
        let inv = run(&[
            "--master",
            "--processes",
            "2",
            "--ini",
            "a.ini",
            "--socket=/x.sock",
            "--chmod-socket",
            "660",
            "--plugins",
            "python3",
            "--check-config",
        ])
        .unwrap();
        assert_eq!(inv.mode, Mode::CheckConfig);
        let v: Vec<(&str, &str)> = inv
            .entries
            .iter()
            .map(|e| (e.name.as_str(), e.value.as_str()))
            .collect();
        assert_eq!(
            v,
            vec![
                ("master", "true"),
                ("processes", "2"),
                ("processes", "3"),
                ("socket", "/x.sock"),
                ("chmod-socket", "660"),
                ("plugins", "python3")
            ]
        );
        assert_eq!(inv.ini_files, vec![PathBuf::from("/cwd/a.ini")]);
    }

    #[test]
    fn sections_and_bare_ini() {
        let inv = run(&["a.ini:other"]).unwrap();
        assert_eq!(inv.entries[0].value, "7");
        // `base` only defines a placeholder: not an option entry.
        assert_eq!(inv.entries[1].name, "chdir");
        assert_eq!(inv.entries[1].value, "/x");
        assert_eq!(inv.entries.len(), 2);
        assert_eq!(split_ini_arg("/x/y.ini"), ("/x/y.ini", "uwsgi"));
        assert_eq!(split_ini_arg("/x:y/z.ini"), ("/x:y/z.ini", "uwsgi"));
    }

    #[test]
    fn errors() {
        assert!(matches!(
            run(&["--bogus", "1"]),
            Err(ConfigError::Unknown { .. })
        ));
        assert!(matches!(
            run(&["--ini", "nope.ini"]),
            Err(ConfigError::Read { .. })
        ));
        assert!(matches!(
            run(&["--socket"]),
            Err(ConfigError::Syntax { .. })
        ));
        assert!(matches!(run(&["stray"]), Err(ConfigError::Syntax { .. })));
    }
}
