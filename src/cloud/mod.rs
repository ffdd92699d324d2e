//! brine-cloud: Salt Cloud's profiles, providers, maps and deploys.

/// Cloud configuration files and vm_config.
pub mod config;
/// Deploying brine-minion over SSH: keys, minion config, deploy script, events.
pub mod deploy;
/// The salt/cloud/<vm>/<task> events, with Salt's data and without its secrets.
pub mod events;
/// The saltify driver: brine-minion deployed to an existing host over SSH.
pub mod saltify;
/// SSH deployment through OpenSSH's ssh and scp.
pub mod ssh;
