//! Command-line tests: the real binary on temporary projects.

mod adversarial;
mod diff;
mod heat;
mod heat_fake;
mod heat_real;
mod images;
mod images_auth;
mod images_e2e;
mod images_env;
mod images_keystone;
mod images_token;
mod params;
mod remote;
mod render;
mod shipped;
mod support;
mod userdata;
