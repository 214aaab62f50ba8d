//! Wire protocols, request side: `uwsgi` (nginx `uwsgi_pass`) and `http` (http-socket).
//! Both are pure parsers over byte slices (fuzz targets call them directly).

pub mod http;
pub mod uwsgi;
