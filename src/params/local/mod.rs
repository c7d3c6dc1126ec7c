//! Local evaluation of a Heat template (no cloud needed).
