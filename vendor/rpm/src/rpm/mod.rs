#[cfg(feature = "payload")]
mod builder;
mod compressor;
#[cfg(feature = "payload")]
mod content;
mod filecaps;
mod headers;
mod package;
#[cfg(feature = "payload")]
mod payload;
mod timestamp;
#[cfg(feature = "payload")]
mod util;

pub mod signature;

pub use headers::*;

pub use compressor::*;

pub use package::*;

#[cfg(feature = "payload")]
pub use builder::*;

#[cfg(feature = "payload")]
pub use content::*;

pub use timestamp::*;

#[cfg(feature = "chrono")]
pub use ::chrono;

pub use filecaps::*;
