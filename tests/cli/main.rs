//! Command-line tests: the real binary on temporary projects.

mod adversarial;
mod diff;
mod images;
mod images_auth;
mod images_e2e;
mod images_env;
mod images_keystone;
mod images_token;
mod params;
mod render;
mod shipped;
mod support;
