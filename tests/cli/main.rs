//! Command-line tests: the real binary on temporary projects.

mod adversarial;
mod diff;
mod params;
mod remote;
mod render;
mod shipped;
mod support;
mod userdata;
