#!/usr/bin/env bash
# Builds, with the host's rpmbuild, the rpm stand-ins of the SUSE/RHEL cycles into OUT:
#  - base-standin: file-less; Provides every capability our rpms require that they do
#    not provide themselves (the base system: /bin/sh, shadow, systemd, python...),
#    so zypper can resolve in a root whose real files are Debian's;
#  - nginx: file-less; its %pre creates nginx:nginx as openSUSE's and Fedora's nginx
#    packages do (distro-policy.md A2, A4).
# usage: rpm-standins.sh OUT OUR.rpm...
set -euo pipefail
OUT=$1; shift
mkdir -p "$OUT"
top=$(mktemp -d "${TMPDIR:-/var/tmp}/wsgi-pack-rpmbuild.XXXXXX")
trap 'rm -rf "$top"' EXIT

# Capabilities required by our rpms, minus what they provide (names, files, provides).
ours=$(for r in "$@"; do rpm -qp --provides "$r"; rpm -qpl "$r"; rpm -qp --qf '%{NAME}\n' "$r"; done 2>/dev/null |
  awk '{print $1}' | sort -u)
needs=$(for r in "$@"; do rpm -qp --requires "$r"; done 2>/dev/null | awk '{print $1}' |
  { grep -v '^rpmlib(' || true; } | sort -u | comm -23 - <(echo "$ours"))
{
  cat <<'SPEC'
Name: base-standin
Version: 1
Release: 0
Summary: File-less stand-in for the base system of a test root
License: MIT
BuildArch: noarch
SPEC
  for c in /bin/sh /usr/bin/sh bash coreutils shadow systemd util-linux glibc $needs; do
    echo "Provides: $c"
  done | sort -u
  cat <<'SPEC'
%description
Test roots only: the files are Debian's; this package tells rpm they are there.
%files
SPEC
} >"$top/base.spec"

cat >"$top/nginx.spec" <<'SPEC'
Name: nginx
Version: 1.21.5
Release: 0
Summary: File-less stand-in for nginx: creates its account like the real package
License: BSD-2-Clause
BuildArch: noarch
Requires(pre): shadow
%description
Test roots only.
%pre
getent group nginx >/dev/null || groupadd -r nginx
getent passwd nginx >/dev/null || useradd -r -g nginx -d /var/lib/nginx -s /sbin/nologin -c "User for nginx" nginx
exit 0
%files
SPEC
for s in base nginx; do
  rpmbuild -bb --quiet --define "_topdir $top" --define "_rpmdir $OUT" \
    --define '_build_name_fmt %%{NAME}-%%{VERSION}-%%{RELEASE}.%%{ARCH}.rpm' "$top/$s.spec" \
    2>&1 | grep -v 'use Alien' >&2 || true
  ls "$OUT"/"$( [ $s = base ] && echo base-standin || echo nginx )"-*.rpm >/dev/null
done
echo "base-standin provides: $(echo "$needs" | tr "\n" " ")" >&2
