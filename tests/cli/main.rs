//! Command-line tests: the real binary on temporary projects.

mod adversarial;
mod diff;
mod heat;
mod heat_fake;
mod heat_real;
mod params;
mod remote;
mod render;
mod shipped;
mod support;
mod userdata;
