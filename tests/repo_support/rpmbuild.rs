//! Small rpms for the rpm-md tests, built by the host's real `rpmbuild` from a spec text,
//! and the parse of rpm-md XML with Python's standard `xml.etree` (a maintained XML
//! parser already on every test machine; the product writes its XML by hand).
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

/// Builds `spec` (a complete spec file) into `out`; returns the rpm's path.
pub fn build_rpm(out: &Path, spec: &str) -> PathBuf {
    let top = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let spec_path = top.path().join("t.spec");
    std::fs::write(&spec_path, spec).unwrap();
    std::fs::create_dir_all(out).unwrap();
    let before: Vec<_> = list_rpms(out);
    let o = Command::new("rpmbuild")
        .arg("-bb")
        .arg("--quiet")
        .arg("--define")
        .arg(format!("_topdir {}", top.path().display()))
        .arg("--define")
        .arg(format!("_rpmdir {}", out.display()))
        .arg("--define")
        .arg("_build_name_fmt %%{NAME}-%%{VERSION}-%%{RELEASE}.%%{ARCH}.rpm")
        .arg(&spec_path)
        .output()
        .expect("rpmbuild could not be started (ci/prereqs.sh installs rpm)");
    assert!(
        o.status.success(),
        "rpmbuild failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    let after = list_rpms(out);
    after
        .into_iter()
        .find(|p| !before.contains(p))
        .expect("rpmbuild wrote no new rpm (same name built twice into one directory?)")
}

pub fn list_rpms(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.flatten()
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|e| e == "rpm"))
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

/// A spec of a noarch package exercising most metadata: epoch, weak and versioned
/// dependencies, pre-requires, requires on own files and provides, libc.so.6 requires,
/// %config, %dir, %ghost, changelog, XML-special characters.
pub fn feature_spec(name: &str, release: u32, summary: &str) -> String {
    format!(
        r#"Name: {name}
Version: 1.2
Release: {release}
Epoch: 2
Summary: {summary}
License: MIT
URL: https://example.invalid/feature?a=1&b=2
Vendor: wsgi-pack tests
Group: Development/Tools
Packager: Tester <tester@example.invalid>
BuildArch: noarch
Provides: featurecap = 1.0-1
Provides: /usr/bin/provided-file
Requires: /bin/sh
Requires(pre): shadow
Requires(post): coreutils
Requires: featurecap
Requires: /usr/bin/featuretool
Requires: libc.so.6()(64bit)
Requires: libc.so.6(GLIBC_2.2.5)(64bit)
Requires: libc.so.6(GLIBC_2.14)(64bit)
Requires: somelib >= 1:2.0-1
Requires: otherlib < 3
Recommends: nginx
Suggests: uwsgi
Supplements: {name}-extra
Enhances: python3
Conflicts: oldthing < 1.0
Obsoletes: {name}-legacy <= 1.1

%description
Line one & <two> "three".
Second line.

%install
mkdir -p %{{buildroot}}/usr/bin %{{buildroot}}/etc/feature %{{buildroot}}/usr/share/feature %{{buildroot}}/var/lib/feature
printf '#!/bin/sh\necho hi\n' > %{{buildroot}}/usr/bin/featuretool
chmod 0755 %{{buildroot}}/usr/bin/featuretool
echo x > %{{buildroot}}/etc/feature/feature.conf
echo {release} > %{{buildroot}}/usr/share/feature/data.txt

%files
/usr/bin/featuretool
%dir /etc/feature
%config(noreplace) /etc/feature/feature.conf
/usr/share/feature
%dir /var/lib/feature
%ghost /var/lib/feature/state

%changelog
* Tue Nov 24 2026 Tester <tester@example.invalid> - 2:1.2-3
- second & <entry>
* Mon Nov 23 2026 Tester <tester@example.invalid> - 2:1.2-2
- first
"#
    )
}

/// Python: prints one JSON object per package of an rpm-md XML file (primary, filelists
/// or other; gzip or plain), keys sorted, lists of dependencies sorted, one per line,
/// sorted. Fields: everything primary.xml carries.
const NORMALISE: &str = r#"
import gzip, json, sys, xml.etree.ElementTree as ET
C = '{http://linux.duke.edu/metadata/common}'
R = '{http://linux.duke.edu/metadata/rpm}'
F = '{http://linux.duke.edu/metadata/filelists}'
O = '{http://linux.duke.edu/metadata/other}'
path, kind = sys.argv[1], sys.argv[2]
data = open(path, 'rb').read()
if data[:2] == b'\x1f\x8b':
    data = gzip.decompress(data)
root = ET.fromstring(data)
out = []
def t(e):
    return None if e is None else (e.text or '')
if kind == 'primary':
    for p in root.findall(C + 'package'):
        v = p.find(C + 'version'); f = p.find(C + 'format')
        d = {'type': p.get('type'), 'name': t(p.find(C + 'name')), 'arch': t(p.find(C + 'arch')),
             'version': dict(v.attrib), 'checksum': t(p.find(C + 'checksum')),
             'checksum_attrs': dict(p.find(C + 'checksum').attrib),
             'summary': t(p.find(C + 'summary')), 'description': t(p.find(C + 'description')),
             'packager': t(p.find(C + 'packager')), 'url': t(p.find(C + 'url')),
             'time': dict(p.find(C + 'time').attrib), 'size': dict(p.find(C + 'size').attrib),
             'location': dict(p.find(C + 'location').attrib)}
        for tag in ['license', 'vendor', 'group', 'buildhost', 'sourcerpm']:
            d[tag] = t(f.find(R + tag))
        d['header-range'] = dict(f.find(R + 'header-range').attrib)
        for dep in ['provides', 'requires', 'conflicts', 'obsoletes', 'suggests', 'enhances',
                    'recommends', 'supplements']:
            blk = f.find(R + dep)
            d[dep] = sorted([json.dumps(dict(e.attrib), sort_keys=True) for e in blk.findall(R + 'entry')]) if blk is not None else []
        d['files'] = [[x.get('type', ''), x.text] for x in f.findall(C + 'file')]
        out.append(d)
    assert int(root.get('packages')) == len(out), 'packages= attribute'
elif kind == 'filelists':
    for p in root.findall(F + 'package'):
        out.append({'pkgid': p.get('pkgid'), 'name': p.get('name'), 'arch': p.get('arch'),
                    'version': dict(p.find(F + 'version').attrib),
                    'files': [[x.get('type', ''), x.text] for x in p.findall(F + 'file')]})
elif kind == 'other':
    for p in root.findall(O + 'package'):
        out.append({'pkgid': p.get('pkgid'), 'name': p.get('name'), 'arch': p.get('arch'),
                    'version': dict(p.find(O + 'version').attrib),
                    'changelog': [[c.get('author'), c.get('date'), c.text] for c in p.findall(O + 'changelog')]})
for line in sorted(json.dumps(d, sort_keys=True) for d in out):
    print(line)
"#;

/// One JSON line per package of the rpm-md file `path` of `kind` (primary|filelists|other).
pub fn normalise(path: &Path, kind: &str) -> Vec<String> {
    let o = Command::new("/usr/bin/python3")
        .arg("-c")
        .arg(NORMALISE)
        .arg(path)
        .arg(kind)
        .output()
        .expect("python3 could not be started");
    assert!(
        o.status.success(),
        "parsing {} failed: {}",
        path.display(),
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8(o.stdout)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect()
}

const DIFF: &str = r#"
import json, sys
a = [json.loads(l) for l in open(sys.argv[1])]
b = [json.loads(l) for l in open(sys.argv[2])]
key = lambda d: (d.get('name'), d.get('arch'), json.dumps(d.get('version'), sort_keys=True), d.get('checksum') or d.get('pkgid'))
bm = {key(d): d for d in b}
for d in a:
    o = bm.pop(key(d), None)
    if o is None:
        print('only ours:', key(d)); continue
    for k in sorted(set(d) | set(o)):
        if d.get(k) != o.get(k):
            print(key(d)[0], k, '\n   ours:', json.dumps(d.get(k)), '\n   createrepo_c:', json.dumps(o.get(k)))
for k in bm:
    print('only createrepo_c:', k)
"#;

/// Field-by-field differences of two `normalise` outputs (for failure messages).
pub fn diff(ours: &[String], theirs: &[String]) -> String {
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    std::fs::write(&a, ours.join("\n")).unwrap();
    std::fs::write(&b, theirs.join("\n")).unwrap();
    let o = Command::new("/usr/bin/python3")
        .arg("-c")
        .arg(DIFF)
        .arg(&a)
        .arg(&b)
        .output()
        .expect("python3 could not be started");
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// The `location href` of the data file of `kind` in `repodata/repomd.xml`.
pub fn repomd_location(repo: &Path, kind: &str) -> PathBuf {
    let repomd = std::fs::read_to_string(repo.join("repodata/repomd.xml")).unwrap();
    let start = repomd
        .find(&format!("<data type=\"{kind}\">"))
        .unwrap_or_else(|| panic!("no {kind} in repomd.xml:\n{repomd}"));
    let rest = &repomd[start..];
    let href = rest.split("<location href=\"").nth(1).unwrap();
    repo.join(&href[..href.find('"').unwrap()])
}
