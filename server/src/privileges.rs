//! `uid`/`gid`: dropping root after the sockets are bound, as uWSGI 2.0 does.
//!
//! [`plan`] resolves the names (nix's `User::from_name`/`Group::from_name`, numbers as
//! they are) without changing anything; the launcher uses it for `--check-config` and
//! to refuse early. [`drop_privileges`] runs in the server after the sockets (with
//! `chown-socket`/`chmod-socket`), the stats socket, the pidfile and `logto` are open
//! and before the application is loaded or a worker forked: supplementary groups
//! (`initgroups(user, gid)` unless `no-initgroups`), then `setgid`, then `setuid`, then
//! a check that real and effective ids are the new ones and that root cannot be
//! regained.
//!
//! As in uWSGI, `uid` and `gid` are independent and only act when the process runs as
//! root; started unprivileged (systemd `User=`), they are not applied. Unlike uWSGI,
//! serving as root (no `uid`, or `uid` = 0) is refused unless `allow-root = true`.

use std::ffi::CString;

use nix::unistd::{self, Gid, Group, Uid, User};

use crate::config::{Config, Origin};

/// What the server will switch to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// Target uid and its passwd name (None: a number without passwd entry).
    pub uid: Option<(u32, Option<String>)>,
    /// Target gid and its group name.
    pub gid: Option<(u32, Option<String>)>,
    /// Take the uid user's supplementary groups with initgroups(3).
    pub initgroups: bool,
    /// `allow-root`.
    pub allow_root: bool,
}

/// Errors of [`plan`] and [`drop_privileges`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PrivError {
    #[error("{origin}: {option} `{value}`: no such {what}")]
    Unknown {
        origin: Origin,
        option: &'static str,
        value: String,
        what: &'static str,
    },
    #[error("{origin}: {option} `{value}`: lookup failed: {source}")]
    Lookup {
        origin: Origin,
        option: &'static str,
        value: String,
        source: nix::Error,
    },
    #[error(
        "refusing to run as root: {why}, so the application and the workers would run as root. \
         Set `uid` (and `gid`) to an unprivileged account (e.g. uid = nobody, gid = nogroup; \
         the sockets are bound before the switch), or set `allow-root = true` to serve as root \
         anyway (a wsgid option; uWSGI only warns)"
    )]
    Root { why: &'static str },
    #[error("cannot drop privileges: {step}: {source}")]
    Step { step: String, source: nix::Error },
    #[error("privileges not dropped: {0}")]
    Verify(String),
}

fn parse_user(value: &str, origin: &Origin) -> Result<(u32, Option<String>), PrivError> {
    if let Ok(n) = value.parse::<u32>() {
        let name = User::from_uid(Uid::from_raw(n))
            .ok()
            .flatten()
            .map(|u| u.name);
        return Ok((n, name));
    }
    match User::from_name(value) {
        Ok(Some(u)) => Ok((u.uid.as_raw(), Some(u.name))),
        Ok(None) => Err(PrivError::Unknown {
            origin: origin.clone(),
            option: "uid",
            value: value.to_string(),
            what: "user",
        }),
        Err(source) => Err(PrivError::Lookup {
            origin: origin.clone(),
            option: "uid",
            value: value.to_string(),
            source,
        }),
    }
}

fn parse_group(value: &str, origin: &Origin) -> Result<(u32, Option<String>), PrivError> {
    if let Ok(n) = value.parse::<u32>() {
        let name = Group::from_gid(Gid::from_raw(n))
            .ok()
            .flatten()
            .map(|g| g.name);
        return Ok((n, name));
    }
    match Group::from_name(value) {
        Ok(Some(g)) => Ok((g.gid.as_raw(), Some(g.name))),
        Ok(None) => Err(PrivError::Unknown {
            origin: origin.clone(),
            option: "gid",
            value: value.to_string(),
            what: "group",
        }),
        Err(source) => Err(PrivError::Lookup {
            origin: origin.clone(),
            option: "gid",
            value: value.to_string(),
            source,
        }),
    }
}

/// Resolves `uid`/`gid` (names must exist; numbers are taken as they are).
pub fn plan(cfg: &Config) -> Result<Plan, PrivError> {
    let uid = cfg
        .uid
        .as_ref()
        .map(|(v, o)| parse_user(v, o))
        .transpose()?;
    let gid = cfg
        .gid
        .as_ref()
        .map(|(v, o)| parse_group(v, o))
        .transpose()?;
    Ok(Plan {
        uid,
        gid,
        initgroups: !cfg.no_initgroups,
        allow_root: cfg.allow_root,
    })
}

fn describe(id: &(u32, Option<String>)) -> String {
    match &id.1 {
        Some(n) => format!("{} ({n})", id.0),
        None => id.0.to_string(),
    }
}

impl Plan {
    /// Whether a process running as `euid` would end up serving as root.
    pub fn serves_as_root(&self, euid: u32) -> Option<&'static str> {
        if euid != 0 {
            return None;
        }
        match &self.uid {
            None => Some("wsgid runs as root and `uid` is not set"),
            Some((0, _)) => Some("`uid` is root"),
            Some(_) => None,
        }
    }

    /// The refusal for serving as root (Ok when allowed or not root).
    pub fn check_root(&self, euid: u32) -> Result<(), PrivError> {
        match self.serves_as_root(euid) {
            Some(why) if !self.allow_root => Err(PrivError::Root { why }),
            _ => Ok(()),
        }
    }

    /// One line for `--check-config` and the start-up log.
    pub fn summary(&self) -> String {
        let u = self.uid.as_ref().map_or("unchanged".to_string(), describe);
        let g = self.gid.as_ref().map_or("unchanged".to_string(), describe);
        let groups = match (&self.uid, self.initgroups) {
            (Some((_, Some(name))), true) => format!("initgroups({name})"),
            _ => "only the gid".to_string(),
        };
        format!("uid {u}, gid {g}, supplementary groups: {groups}")
    }
}

/// What [`drop_privileges`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Dropped {
    /// Not running as root: `uid`/`gid` not applied (uWSGI does the same).
    NotRoot { uid: u32, gid: u32 },
    /// Running as root with `allow-root`: nothing changed.
    StayedRoot,
    /// Switched; the ids and groups now in effect.
    Switched {
        uid: u32,
        gid: u32,
        groups: Vec<u32>,
    },
}

/// Drops root as planned: groups, setgid, setuid, then verifies. Call it after binding
/// and before the application is loaded or any worker exists (single-threaded: no
/// other thread may keep root's credentials).
pub fn drop_privileges(p: &Plan) -> Result<Dropped, PrivError> {
    let euid = unistd::geteuid().as_raw();
    if euid != 0 {
        return Ok(Dropped::NotRoot {
            uid: unistd::getuid().as_raw(),
            gid: unistd::getgid().as_raw(),
        });
    }
    p.check_root(euid)?;
    if p.serves_as_root(euid).is_some() {
        // allow-root; `gid` alone is still applied as uWSGI would.
        if let Some((g, _)) = &p.gid {
            let g = Gid::from_raw(*g);
            set_groups(&[g])?;
            step("setgid", unistd::setgid(g))?;
        }
        return Ok(Dropped::StayedRoot);
    }
    let (uid, user) = p.uid.clone().expect("uid set when not serving as root");
    // uWSGI: `uid` without `gid` leaves the group as it is; we still never keep
    // root's supplementary groups.
    let gid = p
        .gid
        .as_ref()
        .map_or_else(|| unistd::getegid().as_raw(), |g| g.0);
    let (uid, gid) = (Uid::from_raw(uid), Gid::from_raw(gid));
    match (&user, p.initgroups) {
        (Some(name), true) => {
            let c = CString::new(name.as_str()).map_err(|_| PrivError::Step {
                step: format!("initgroups({name})"),
                source: nix::Error::EINVAL,
            })?;
            step(
                &format!("initgroups({name}, {gid})"),
                unistd::initgroups(&c, gid),
            )?;
        }
        _ => set_groups(&[gid])?,
    }
    step(&format!("setgid({gid})"), unistd::setgid(gid))?;
    step(&format!("setuid({uid})"), unistd::setuid(uid))?;
    let (ru, eu) = (unistd::getuid(), unistd::geteuid());
    let (rg, eg) = (unistd::getgid(), unistd::getegid());
    if ru != uid || eu != uid || rg != gid || eg != gid {
        return Err(PrivError::Verify(format!(
            "uid {ru}/{eu} gid {rg}/{eg} (real/effective), expected uid {uid} gid {gid}"
        )));
    }
    if unistd::setuid(Uid::from_raw(0)).is_ok() {
        return Err(PrivError::Verify("setuid(0) still succeeds".into()));
    }
    let groups = unistd::getgroups()
        .map(|g| g.iter().map(|g| g.as_raw()).collect())
        .unwrap_or_default();
    Ok(Dropped::Switched {
        uid: uid.as_raw(),
        gid: gid.as_raw(),
        groups,
    })
}

fn set_groups(groups: &[Gid]) -> Result<(), PrivError> {
    step(&format!("setgroups({groups:?})"), unistd::setgroups(groups))
}

fn step(what: &str, r: nix::Result<()>) -> Result<(), PrivError> {
    r.map_err(|source| PrivError::Step {
        step: what.to_string(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn origin() -> Origin {
        Origin::Arg { index: 1 }
    }

    #[test]
    fn numbers_and_names() {
        assert_eq!(parse_user("0", &origin()).unwrap().0, 0);
        assert_eq!(
            parse_user("root", &origin()).unwrap(),
            (0, Some("root".into()))
        );
        assert_eq!(parse_group("0", &origin()).unwrap().0, 0);
        let e = parse_user("no-such-user-wsgid", &origin()).unwrap_err();
        assert!(e.to_string().contains("no such user"), "{e}");
        let e = parse_group("no-such-group-wsgid", &origin()).unwrap_err();
        assert!(e.to_string().contains("no such group"), "{e}");
    }

    #[test]
    fn root_refusal() {
        let p = Plan {
            uid: None,
            gid: None,
            initgroups: true,
            allow_root: false,
        };
        assert!(p.check_root(1000).is_ok());
        let e = p.check_root(0).unwrap_err().to_string();
        assert!(e.contains("allow-root") && e.contains("uid"), "{e}");
        let p = Plan {
            uid: Some((0, Some("root".into()))),
            ..p
        };
        assert!(p.check_root(0).is_err());
        let p = Plan {
            allow_root: true,
            ..p
        };
        assert!(p.check_root(0).is_ok());
        let p = Plan {
            uid: Some((65534, None)),
            allow_root: false,
            ..p
        };
        assert!(p.check_root(0).is_ok());
    }
}
