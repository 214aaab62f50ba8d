//! The persistent index of a published apt repository (`repo/.wsgi-pack/apt-index`):
//! one record per pool file with its size, mtime, checksums and control stanza, so a
//! publish does not re-read unchanged packages.
