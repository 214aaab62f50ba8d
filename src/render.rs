//! Rendering: one tera environment over `templates/`, and the package plan (files,
//! scripts, metadata) of one (definition, family, backend). Both builders consume
//! the same `PackagePlan`.

use crate::content::Content;
use crate::error::{Error, Result};
use crate::model::{Backend, Compression, Definition, EnablePolicy, Family, Format, Kind};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// A built artifact of a server definition: (install path, mode, bytes), the bytes
/// shared with every package plan that carries it.
pub type Artifact = (String, u32, Content);

/// A file inside a package.
#[derive(Debug, Clone, Serialize)]
pub struct PlannedFile {
    /// Absolute install path.
    pub path: String,
    pub mode: u32,
    /// Shared with the build step's artifact (a 20 MB binary is not copied per package).
    #[serde(skip)]
    pub content: Content,
    /// A conffile / %config(noreplace).
    pub config: bool,
    /// The template it was rendered from, if any.
    pub template: Option<String>,
}

/// A maintainer script / scriptlet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub enum Script {
    /// deb postinst
    Postinst,
    /// deb prerm
    Prerm,
    /// deb postrm
    Postrm,
    /// rpm %pre
    Pre,
    /// rpm %post
    Post,
    /// rpm %preun
    Preun,
    /// rpm %postun
    Postun,
    /// rpm %triggerin -- nginx
    TriggerinNginx,
}

impl Script {
    /// The name used for goldens and `render` output.
    pub fn name(self) -> &'static str {
        match self {
            Script::Postinst => "postinst",
            Script::Prerm => "prerm",
            Script::Postrm => "postrm",
            Script::Pre => "pre",
            Script::Post => "post",
            Script::Preun => "preun",
            Script::Postun => "postun",
            Script::TriggerinNginx => "triggerin-nginx",
        }
    }
    fn template(self) -> &'static str {
        match self {
            Script::Postinst => "deb/postinst.tera",
            Script::Prerm => "deb/prerm.tera",
            Script::Postrm => "deb/postrm.tera",
            Script::Pre => "rpm/pre.tera",
            Script::Post => "rpm/post.tera",
            Script::Preun => "rpm/preun.tera",
            Script::Postun => "rpm/postun.tera",
            Script::TriggerinNginx => "rpm/triggerin-nginx.tera",
        }
    }
}

/// Everything a builder needs for one package.
#[derive(Debug, Clone, Serialize)]
pub struct PackagePlan {
    pub name: String,
    pub version: String,
    pub revision: String,
    /// deb: `version-revision`; rpm uses version and `release` separately.
    pub full_version: String,
    pub release: String,
    pub arch: String,
    pub format: Format,
    pub compression: Compression,
    pub family: String,
    pub summary: String,
    pub description: String,
    pub license: String,
    pub license_dep5: String,
    pub maintainer: String,
    pub homepage: Option<String>,
    pub section: String,
    pub group: String,
    pub changelog: String,
    pub depends: Vec<String>,
    pub conflicts: Vec<String>,
    /// Files, sorted by path.
    pub files: Vec<PlannedFile>,
    pub scripts: BTreeMap<Script, String>,
    /// deb `DEBIAN/control`, rendered.
    pub control: Option<String>,
    /// The definition it came from.
    pub definition: PathBuf,
    pub source_date_epoch: u64,
}

impl PackagePlan {
    /// The standard file name: `name_version-revision_arch.deb` or
    /// `name-version-release.arch.rpm`.
    pub fn file_name(&self) -> String {
        match self.format {
            Format::Deb => format!("{}_{}_{}.deb", self.name, self.full_version, self.arch),
            Format::Rpm => format!(
                "{}-{}-{}.{}.rpm",
                self.name, self.version, self.release, self.arch
            ),
        }
    }
}

/// The tera environment over `templates/`, recording which templates were used.
pub struct Renderer {
    tera: tera::Tera,
    dir: PathBuf,
    used: Mutex<BTreeSet<String>>,
}

fn comment_filter(
    value: &tera::Value,
    args: &std::collections::HashMap<String, tera::Value>,
) -> tera::Result<tera::Value> {
    let text = value.as_str().unwrap_or_default();
    let prefix = args.get("prefix").and_then(|p| p.as_str()).unwrap_or("# ");
    let out: Vec<String> = text
        .lines()
        .map(|l| format!("{prefix}{l}").trim_end().to_string())
        .collect();
    Ok(tera::Value::String(out.join("\n")))
}

impl Renderer {
    /// Loads every `*.tera` under `dir` (relative names such as `deb/postinst.tera`).
    pub fn new(dir: &Path) -> Result<Self> {
        let mut tera = tera::Tera::default();
        tera.autoescape_on(vec![]);
        let mut files = Vec::new();
        collect_templates(dir, dir, &mut files)?;
        files.sort();
        for rel in &files {
            let text = std::fs::read_to_string(dir.join(rel))
                .map_err(|e| Error::io(dir.join(rel), "cannot read template", e))?;
            tera.add_raw_template(rel, &text)
                .map_err(|e| Error::Template {
                    template: format!("templates/{rel}"),
                    definition: PathBuf::from("-"),
                    message: tera_message(&e),
                })?;
        }
        tera.register_filter("comment", comment_filter);
        Ok(Self {
            tera,
            dir: dir.to_path_buf(),
            used: Mutex::new(BTreeSet::new()),
        })
    }

    /// Every template name known (for the inventory test).
    pub fn template_names(&self) -> Vec<String> {
        let mut v: Vec<String> = self.tera.get_template_names().map(String::from).collect();
        v.sort();
        v
    }

    /// Templates rendered so far, plus the ones they include.
    pub fn used(&self) -> BTreeSet<String> {
        let mut used = self.used.lock().expect("poisoned").clone();
        let mut more = BTreeSet::new();
        for t in &used {
            if let Ok(text) = std::fs::read_to_string(self.dir.join(t)) {
                for part in text.split("{% include \"").skip(1) {
                    if let Some(name) = part.split('"').next() {
                        more.insert(name.to_string());
                    }
                }
            }
        }
        used.append(&mut more);
        used
    }

    fn render(&self, name: &str, ctx: &tera::Context, def: &Definition) -> Result<String> {
        self.used.lock().expect("poisoned").insert(name.to_string());
        // The leading `{# ... #}` description of each template leaves a newline.
        self.tera
            .render(name, ctx)
            .map(|s| s.trim_start_matches('\n').to_string())
            .map_err(|e| Error::Template {
                template: format!("templates/{name}"),
                definition: def.path.clone(),
                message: tera_message(&e),
            })
    }
}

fn tera_message(e: &tera::Error) -> String {
    let mut msg = e.to_string();
    let mut src = std::error::Error::source(e);
    while let Some(s) = src {
        msg.push_str(": ");
        msg.push_str(&s.to_string());
        src = s.source();
    }
    msg
}

fn collect_templates(base: &Path, dir: &Path, out: &mut Vec<String>) -> Result<()> {
    let rd = std::fs::read_dir(dir).map_err(|e| Error::io(dir, "cannot list templates", e))?;
    for entry in rd {
        let entry = entry.map_err(|e| Error::io(dir, "cannot list templates", e))?;
        let p = entry.path();
        if p.is_dir() {
            collect_templates(base, &p, out)?;
        } else if p.extension().is_some_and(|e| e == "tera") {
            let rel = p.strip_prefix(base).expect("under base");
            out.push(rel.to_string_lossy().replace('\\', "/"));
        }
    }
    Ok(())
}

/// RFC 2822 date of a Unix time (UTC), for deb changelogs.
pub fn rfc2822(epoch: u64) -> String {
    let (y, mo, d, h, mi, s, wd) = civil(epoch);
    const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    format!(
        "{}, {:02} {} {} {:02}:{:02}:{:02} +0000",
        DAYS[wd],
        d,
        MONTHS[(mo - 1) as usize],
        y,
        h,
        mi,
        s
    )
}

/// ISO date (YYYY-MM-DD, UTC) of a Unix time.
pub fn iso_date(epoch: u64) -> String {
    let (y, mo, d, ..) = civil(epoch);
    format!("{y:04}-{mo:02}-{d:02}")
}

/// Civil date from Unix time (Howard Hinnant's days_from_civil inverse).
fn civil(epoch: u64) -> (i64, u32, u32, u64, u64, u64, usize) {
    let days = (epoch / 86400) as i64;
    let secs = epoch % 86400;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = if m <= 2 { y + 1 } else { y };
    (
        y,
        m,
        d,
        secs / 3600,
        (secs % 3600) / 60,
        secs % 60,
        (days.rem_euclid(7)) as usize,
    )
}

/// SPDX -> Debian copyright-format short names (copyright-format 1.0, "License
/// short name"). Unknown identifiers pass through.
fn dep5_license(spdx: &str) -> String {
    const MAP: &[(&str, &str)] = &[
        ("GPL-3.0-or-later", "GPL-3+"),
        ("GPL-3.0-only", "GPL-3"),
        ("GPL-2.0-or-later", "GPL-2+"),
        ("MIT", "Expat"),
        ("Apache-2.0", "Apache-2.0"),
    ];
    MAP.iter()
        .find(|(s, _)| *s == spdx)
        .map_or(spdx.to_string(), |(_, d)| d.to_string())
}

/// Debian extended description: each line indented by one space, empty lines " .".
fn deb_description(text: &str) -> String {
    text.lines()
        .map(|l| {
            if l.trim().is_empty() {
                " .".to_string()
            } else {
                format!(" {}", l.trim_end())
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Inputs of one package plan beyond the definition and family.
pub struct PlanInput<'a> {
    pub renderer: &'a Renderer,
    pub definition: &'a Definition,
    pub family: &'a Family,
    pub backend: Option<Backend>,
    /// Every rpm family (their facts go into rpm scriptlets).
    pub rpm_families: &'a [Family],
    /// Built artifacts of a server package: (dest, mode, bytes).
    pub artifacts: &'a [Artifact],
    pub source_date_epoch: u64,
}

fn header_text(def: &Definition, template: &str, package: &str) -> String {
    def.meta
        .comment
        .replace("{definition}", &def.path.to_string_lossy())
        .replace("{template}", &format!("templates/{template}"))
        .replace("{package}", package)
}

/// Builds the package plan of one (definition, family, backend).
pub fn plan(input: &PlanInput) -> Result<PackagePlan> {
    let def = input.definition;
    let family = input.family;
    let meta = &def.meta;
    let r = input.renderer;
    let (name, binary) = match (&def.kind, input.backend) {
        (Kind::Server(_), _) => (meta.name.clone(), true),
        (Kind::Instance(i), Some(b)) => (format!("{}-{}", i.name, b.name()), false),
        (Kind::Instance(i), None) => (format!("{}-wsgid", i.name), false),
    };
    let release = format!("{}{}", meta.revision, family.release_suffix);
    let mut pkg = PackagePlan {
        name: name.clone(),
        version: meta.version.clone(),
        revision: meta.revision.to_string(),
        full_version: format!("{}-{}", meta.version, release),
        release,
        arch: family.arch(binary).to_string(),
        format: family.format,
        compression: family.compression,
        family: family.name.clone(),
        summary: meta.summary.clone(),
        description: meta.description.clone(),
        license: meta.license.clone(),
        license_dep5: dep5_license(&meta.license),
        maintainer: meta.maintainer.clone(),
        homepage: meta.homepage.clone(),
        section: meta.section.clone(),
        group: meta.group.clone(),
        changelog: meta.changelog.clone(),
        depends: Vec::new(),
        conflicts: Vec::new(),
        files: Vec::new(),
        scripts: BTreeMap::new(),
        control: None,
        definition: def.path.clone(),
        source_date_epoch: input.source_date_epoch,
    };
    let mut depends: Vec<String> = def.depends.get(&family.name).cloned().unwrap_or_default();

    let mut ctx = tera::Context::new();
    ctx.insert("family", family);
    ctx.insert("date_rfc2822", &rfc2822(input.source_date_epoch));
    ctx.insert("date_iso", &iso_date(input.source_date_epoch));
    let rpm_families: Vec<&Family> = input.rpm_families.iter().collect();
    ctx.insert("rpm_families", &rpm_families);
    let mut all_web: BTreeSet<String> = BTreeSet::new();
    for f in input.rpm_families {
        all_web.extend(f.web_user_candidates.iter().cloned());
    }
    all_web.insert("www-data".into());
    all_web.insert("wwwrun".into());
    ctx.insert("all_web_users", &all_web.into_iter().collect::<Vec<_>>());

    let render = |template: &str, ctx: &mut tera::Context| -> Result<String> {
        ctx.insert("header", &header_text(def, template, &name));
        r.render(template, ctx, def)
    };

    match &def.kind {
        Kind::Server(step) => {
            depends.extend(family.python_requires.iter().cloned());
            ctx.insert("pkg", &pkg);
            for (dest, mode, bytes) in input.artifacts {
                pkg.files.push(PlannedFile {
                    path: dest.clone(),
                    mode: *mode,
                    content: bytes.clone(),
                    config: false,
                    template: None,
                });
            }
            let _ = step;
            if let Kind::Server(step) = &def.kind {
                for m in &step.manpages {
                    let text = render(&m.template, &mut ctx)?;
                    pkg.files.push(PlannedFile {
                        path: format!("{}.gz", m.dest),
                        mode: 0o644,
                        content: Content::from(gzip(text.as_bytes())),
                        config: false,
                        template: Some(m.template.clone()),
                    });
                }
            }
        }
        Kind::Instance(inst) => {
            let backend = input.backend.unwrap_or(Backend::Wsgid);
            let fb = family.backend(backend).ok_or_else(|| Error::Invalid {
                at: crate::error::Location {
                    file: family.path.clone(),
                    line: None,
                    field: Some(format!("backend.{}", backend.name())),
                },
                message: format!(
                    "family `{}` has no facts for backend `{}` (needed by {})",
                    family.name,
                    backend.name(),
                    def.path.display()
                ),
            })?;
            // gunicorn runs inside the app's interpreter: with a virtualenv that is the
            // virtualenv's own gunicorn (`pip install gunicorn` there, as GNU Health's
            // gunicorn instructions do), and the family's package is not needed.
            let exec = match (backend, &inst.venv) {
                (Backend::Gunicorn, Some(venv)) => format!("{venv}/bin/gunicorn"),
                _ => {
                    depends.extend(fb.requires.iter().cloned());
                    fb.exec.clone()
                }
            };
            depends.extend(family.account_requires.iter().cloned());
            for other in &inst.backends {
                if *other != backend {
                    pkg.conflicts
                        .push(format!("{}-{}", inst.name, other.name()));
                }
            }
            // Backends not built for this instance still conflict (same unit path).
            for other in Backend::ALL {
                let n = format!("{}-{}", inst.name, other.name());
                if other != backend && !pkg.conflicts.contains(&n) {
                    pkg.conflicts.push(n);
                }
            }
            pkg.conflicts.sort();
            #[derive(Serialize)]
            struct BackendCtx<'a> {
                name: &'a str,
                exec: &'a str,
                kill_signal: &'a str,
                notify_access: &'a str,
                plugin: Option<&'a str>,
                check_config: bool,
                /// The settings file the server reads (`--ini` or gunicorn's `--config`).
                config_path: &'a str,
                reads_ini: bool,
                speaks_uwsgi: bool,
            }
            ctx.insert(
                "backend",
                &BackendCtx {
                    name: backend.name(),
                    exec: &exec,
                    kill_signal: backend.kill_signal(),
                    notify_access: backend.notify_access(),
                    plugin: backend.ini_plugin(),
                    check_config: backend.check_config(),
                    config_path: if backend.reads_ini() {
                        &inst.ini_path
                    } else {
                        &inst.gunicorn_conf_path
                    },
                    reads_ini: backend.reads_ini(),
                    speaks_uwsgi: backend.speaks_uwsgi(),
                },
            );
            ctx.insert("instance", inst);
            let preset_name = format!(
                "{}-{}.preset",
                family.preset_priority,
                inst.unit.trim_end_matches(".service")
            );
            ctx.insert("preset_name", &preset_name);
            ctx.insert("pkg", &pkg);
            let mut add = |path: String,
                           template: &str,
                           config: bool,
                           ctx: &mut tera::Context|
             -> Result<()> {
                let text = render(template, ctx)?;
                // Everything under /etc is a conffile (Debian Policy §10.7.2).
                let config = config || path.starts_with("/etc/");
                pkg.files.push(PlannedFile {
                    path,
                    mode: 0o644,
                    content: Content::from(text.into_bytes()),
                    config,
                    template: Some(template.to_string()),
                });
                Ok(())
            };
            if backend.reads_ini() {
                add(inst.ini_path.clone(), "instance.ini.tera", true, &mut ctx)?;
            } else {
                add(
                    inst.gunicorn_conf_path.clone(),
                    "gunicorn.conf.py.tera",
                    true,
                    &mut ctx,
                )?;
            }
            add(
                format!("{}/{}", family.unit_dir, inst.unit),
                "unit.service.tera",
                false,
                &mut ctx,
            )?;
            add(
                format!("{}/{}.conf", family.sysusers_dir, name),
                "sysusers.conf.tera",
                false,
                &mut ctx,
            )?;
            add(
                family.nginx_site_path(&inst.name),
                "nginx-site.conf.tera",
                true,
                &mut ctx,
            )?;
            if family.enable == EnablePolicy::Preset {
                let dir = family
                    .preset_dir
                    .as_deref()
                    .unwrap_or("/usr/lib/systemd/system-preset");
                add(
                    format!("{dir}/{preset_name}"),
                    "preset.tera",
                    false,
                    &mut ctx,
                )?;
            }
            let scripts: &[Script] = match family.format {
                Format::Deb => &[Script::Postinst, Script::Prerm, Script::Postrm],
                Format::Rpm => &[
                    Script::Pre,
                    Script::Post,
                    Script::Preun,
                    Script::Postun,
                    Script::TriggerinNginx,
                ],
            };
            for s in scripts {
                let text = render(s.template(), &mut ctx)?;
                pkg.scripts.insert(*s, text);
            }
        }
    }

    // Debian docs: copyright and changelog (Debian Policy §12.5, §12.7).
    if family.format == Format::Deb {
        ctx.insert("pkg", &pkg);
        let doc = format!("/usr/share/doc/{name}");
        let copyright = render("deb/copyright.tera", &mut ctx)?;
        pkg.files.push(PlannedFile {
            path: format!("{doc}/copyright"),
            mode: 0o644,
            content: Content::from(copyright.into_bytes()),
            config: false,
            template: Some("deb/copyright.tera".into()),
        });
        let changelog = render("deb/changelog.tera", &mut ctx)?;
        pkg.files.push(PlannedFile {
            path: format!("{doc}/changelog.Debian.gz"),
            mode: 0o644,
            content: Content::from(gzip(changelog.as_bytes())),
            config: false,
            template: Some("deb/changelog.tera".into()),
        });
    }
    depends.sort();
    depends.dedup();
    pkg.depends = depends;
    pkg.files.sort_by(|a, b| a.path.cmp(&b.path));
    if family.format == Format::Deb {
        #[derive(Serialize)]
        struct ControlCtx<'a> {
            #[serde(flatten)]
            pkg: &'a PackagePlan,
            installed_size: u64,
            description_deb: String,
        }
        let installed_size: u64 = pkg
            .files
            .iter()
            .map(|f| (f.content.len() as u64).div_ceil(1024))
            .sum::<u64>()
            + 4;
        ctx.insert(
            "pkg",
            &ControlCtx {
                pkg: &pkg,
                installed_size,
                description_deb: deb_description(&pkg.description),
            },
        );
        let control = render("deb/control.tera", &mut ctx)?;
        pkg.control = Some(control.trim_end().to_string() + "\n");
    }
    Ok(pkg)
}

/// gzip with maximum compression and no timestamp or name in the header (lintian
/// `package-contains-timestamped-gzip`; reproducible).
pub fn gzip(data: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut enc = flate2::GzBuilder::new()
        .mtime(0)
        .write(Vec::new(), flate2::Compression::best());
    enc.write_all(data).expect("writing to a Vec");
    enc.finish().expect("writing to a Vec")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_utc() {
        assert_eq!(rfc2822(0), "Thu, 01 Jan 1970 00:00:00 +0000");
        assert_eq!(rfc2822(1_767_225_600), "Thu, 01 Jan 2026 00:00:00 +0000");
        assert_eq!(iso_date(951_782_400), "2000-02-29");
    }

    #[test]
    fn debian_description_marks_empty_lines() {
        assert_eq!(deb_description("a\n\nb"), " a\n .\n b");
    }

    #[test]
    fn gzip_has_no_timestamp() {
        let g = gzip(b"x");
        assert_eq!(&g[4..8], &[0, 0, 0, 0]);
    }

    #[test]
    fn spdx_maps_to_dep5() {
        assert_eq!(dep5_license("GPL-3.0-or-later"), "GPL-3+");
        assert_eq!(dep5_license("BSD-3-Clause"), "BSD-3-Clause");
    }
}
