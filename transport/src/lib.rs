//! The wire of courier: how nodes carry calls to each other.
//!
//! The protocol lives in modules with no sockets, each unit-tested on its
//! own: [`frame`] cuts a byte stream into frames whose archives can be read
//! in place.

pub mod frame;
