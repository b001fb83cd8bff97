//! Where services run: the Docker Engine and (later) AWS ECS.
//!
//! So far this reads the live state of Docker containers for the health monitor; the deploy
//! engine's backend interface builds on it (issue 5).

pub mod docker;
