//! uWSGI ini syntax: the subset uWSGI 2.0 reads with `--ini` (core/ini.c).
//!
//! - sections `[name]`; only the wanted section (default `uwsgi`) is read;
//! - `key = value` lines, whitespace around both trimmed; keys may repeat (`env`);
//! - full-line comments starting with `#` or `;` (uWSGI has no inline comments:
//!   `a = b # c` gives the value `b # c`);
//! - a key alone on a line (`master`) means `true`;
//! - placeholders, expanded when the line is read (core/uwsgi.c `magic` table):
//!   `%d` directory of the file with a trailing `/`, `%p` absolute path of the file,
//!   `%s` file name, `%n` file name without extension, `%c` name of the directory
//!   holding the file, `%x` extension, `%h` host name, `%%` a literal `%`,
//!   `%(name)` the value of an option or placeholder set earlier, `$(VAR)` an
//!   environment variable. An unset variable is an error naming it and the line
//!   (uWSGI 2.0 expands it to an empty string: `$(CREDENTIALS_DIRECTORY)/key.pem`
//!   outside systemd would silently become `/key.pem`).
//!
//! Pure: reads a string; file access is the caller's job.

use std::path::Path;

use super::{ConfigError, Origin};

/// One `key = value` line of the wanted section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IniEntry {
    pub key: String,
    pub value: String,
    pub origin: Origin,
}

/// Parses `text` (the contents of `path`) and returns the entries of `section`.
///
/// `env` looks up environment variables for `$(VAR)`; `host` is the host name for `%h`.
pub fn parse_ini(
    text: &str,
    path: &Path,
    section: &str,
    env: &dyn Fn(&str) -> Option<String>,
    host: &str,
) -> Result<Vec<IniEntry>, ConfigError> {
    let mut out: Vec<IniEntry> = Vec::new();
    let mut in_section = false;
    let mut seen_section = false;
    for (idx, raw) in text.lines().enumerate() {
        let origin = Origin::File {
            path: path.to_path_buf(),
            line: idx + 1,
        };
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        if let Some(rest) = line.strip_prefix('[') {
            let Some(name) = rest.strip_suffix(']') else {
                return Err(ConfigError::Syntax {
                    origin,
                    message: format!("section header without closing `]`: {line}"),
                });
            };
            in_section = name.trim() == section;
            seen_section |= in_section;
            continue;
        }
        if !in_section {
            continue;
        }
        let (key, value) = match line.split_once('=') {
            Some((k, v)) => (k.trim(), v.trim()),
            None => (line, "true"),
        };
        if key.is_empty() {
            return Err(ConfigError::Syntax {
                origin,
                message: format!("line has no option name: {line}"),
            });
        }
        let value = expand(value, path, &out, env, host, &origin)?;
        out.push(IniEntry {
            key: key.to_string(),
            value,
            origin,
        });
    }
    if !seen_section {
        return Err(ConfigError::NoSection {
            path: path.to_path_buf(),
            section: section.to_string(),
        });
    }
    Ok(out)
}

fn expand(
    value: &str,
    path: &Path,
    earlier: &[IniEntry],
    env: &dyn Fn(&str) -> Option<String>,
    host: &str,
    origin: &Origin,
) -> Result<String, ConfigError> {
    let bad = |message: String| ConfigError::Syntax {
        origin: origin.clone(),
        message,
    };
    let file_name = path
        .file_name()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut out = String::with_capacity(value.len());
    let mut chars = value.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        match c {
            '%' => {
                let Some((_, m)) = chars.next() else {
                    out.push('%');
                    break;
                };
                match m {
                    '%' => out.push('%'),
                    'd' => {
                        let dir = path.parent().unwrap_or(Path::new("/"));
                        let mut d = dir.to_string_lossy().into_owned();
                        if !d.ends_with('/') {
                            d.push('/');
                        }
                        out.push_str(&d);
                    }
                    'p' => out.push_str(&path.to_string_lossy()),
                    's' => out.push_str(&file_name),
                    'n' => out.push_str(
                        &path
                            .file_stem()
                            .map(|s| s.to_string_lossy().into_owned())
                            .unwrap_or_default(),
                    ),
                    'x' => out.push_str(
                        &path
                            .extension()
                            .map(|s| s.to_string_lossy().into_owned())
                            .unwrap_or_default(),
                    ),
                    'c' => out.push_str(
                        &path
                            .parent()
                            .and_then(|p| p.file_name())
                            .map(|s| s.to_string_lossy().into_owned())
                            .unwrap_or_default(),
                    ),
                    'h' => out.push_str(host),
                    '(' => {
                        let rest = &value[i + 2..];
                        let Some(end) = rest.find(')') else {
                            return Err(bad(format!("unterminated `%(` in `{value}`")));
                        };
                        let name = &rest[..end];
                        let Some(found) = earlier.iter().rev().find(|e| e.key == name) else {
                            return Err(bad(format!(
                                "placeholder `%({name})` refers to no option set earlier"
                            )));
                        };
                        out.push_str(&found.value);
                        skip_to(&mut chars, i + 2 + end + 1);
                    }
                    other => {
                        return Err(bad(format!(
                            "unsupported placeholder `%{other}` in `{value}` (wsgid knows %d %p %s %n %x %c %h %% %(name) $(VAR))"
                        )));
                    }
                }
            }
            '$' if value[i + 1..].starts_with('(') => {
                let rest = &value[i + 2..];
                let Some(end) = rest.find(')') else {
                    return Err(bad(format!("unterminated `$(` in `{value}`")));
                };
                let var = &rest[..end];
                let Some(v) = env(var) else {
                    return Err(bad(format!(
                        "environment variable `{var}` in `$({var})` is not set{}",
                        if var == "CREDENTIALS_DIRECTORY" {
                            " (systemd sets it for units with LoadCredential=; outside systemd, export it)"
                        } else {
                            ""
                        }
                    )));
                };
                out.push_str(&v);
                skip_to(&mut chars, i + 2 + end + 1);
            }
            c => out.push(c),
        }
    }
    Ok(out)
}

/// Advances `chars` to the first character at byte index `target` or later.
fn skip_to(chars: &mut std::iter::Peekable<std::str::CharIndices<'_>>, target: usize) {
    while chars.peek().is_some_and(|(j, _)| *j < target) {
        chars.next();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str, section: &str) -> Result<Vec<IniEntry>, ConfigError> {
        let env = |k: &str| (k == "HOME").then(|| "/home/x".to_string());
        parse_ini(text, Path::new("/etc/app/site.ini"), section, &env, "box")
    }

    fn kv(v: &[IniEntry]) -> Vec<(&str, &str)> {
        v.iter()
            .map(|e| (e.key.as_str(), e.value.as_str()))
            .collect()
    }

    #[test]
    fn sections_comments_repeats() {
        let t = "# top\n[other]\nsocket = nope\n[uwsgi]\n; c\nsocket = /run/a.sock\nenv = A=1\nenv=B=2\nmaster\n  # indented comment\nx = a # not a comment\n";
        let v = parse(t, "uwsgi").unwrap();
        assert_eq!(
            kv(&v),
            vec![
                ("socket", "/run/a.sock"),
                ("env", "A=1"),
                ("env", "B=2"),
                ("master", "true"),
                ("x", "a # not a comment")
            ]
        );
        assert_eq!(
            v[1].origin,
            Origin::File {
                path: "/etc/app/site.ini".into(),
                line: 7
            }
        );
        let o = parse(t, "other").unwrap();
        assert_eq!(kv(&o), vec![("socket", "nope")]);
    }

    #[test]
    fn missing_section_is_an_error() {
        assert!(matches!(
            parse("[foo]\na=1\n", "uwsgi"),
            Err(ConfigError::NoSection { .. })
        ));
    }

    #[test]
    fn placeholders() {
        let t = "[uwsgi]\nbase = /srv/x\nchdir = %(base)/app\nsocket = %drun/%n.sock\nlog = %p %s %c %x %h 100%%\nhome = $(HOME)/v $(HOME)!\n";
        let v = parse(t, "uwsgi").unwrap();
        assert_eq!(v[1].value, "/srv/x/app");
        assert_eq!(v[2].value, "/etc/app/run/site.sock");
        assert_eq!(v[3].value, "/etc/app/site.ini site.ini app ini box 100%");
        assert_eq!(v[4].value, "/home/x/v /home/x!");
        // An unset variable is an error naming it and the line (uWSGI: empty).
        let e = parse(
            "[uwsgi]\n\nkey = $(CREDENTIALS_DIRECTORY)/key.pem\n",
            "uwsgi",
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("/etc/app/site.ini:3") && e.contains("`CREDENTIALS_DIRECTORY`"),
            "{e}"
        );
    }

    #[test]
    fn bad_placeholders_are_errors_not_panics() {
        for t in ["a = %(nope)", "a = %(open", "a = %q", "a = $(open", "a = %"] {
            let r = parse(&format!("[uwsgi]\n{t}\n"), "uwsgi");
            if t == "a = %" {
                assert_eq!(r.unwrap()[0].value, "%");
            } else {
                assert!(r.is_err(), "{t}");
            }
        }
        assert!(parse("[uwsgi\n", "uwsgi").is_err());
        assert!(parse("[uwsgi]\n= x\n", "uwsgi").is_err());
        // multi-byte characters around placeholders
        let v = parse("[uwsgi]\na = é%%ü$(HOME)ß\n", "uwsgi").unwrap();
        assert_eq!(v[0].value, "é%ü/home/xß");
    }
}
