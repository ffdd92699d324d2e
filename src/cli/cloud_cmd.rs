//! `brine-cloud`: Salt's `salt-cloud` for brine. It reads the cloud configuration files,
//! reaches the master through its Unix socket (keys through `wheel.key.*`, events as `F`
//! frames) and deploys over SSH.

use super::args;
use super::flags::{flag_set, switch, valued, CliError, Flag, Parsed, Section, Tool};
use super::output::{self, Outputter};
use super::{fail, EXIT_USAGE};
use crate::bus::Request;
use crate::client::{self, BusClient};
use crate::cloud::config::CloudConfig;
use crate::cloud::deploy::Master;
use crate::config::MasterConfig;
use serde_json::{json, Map, Value};
use std::io::{BufRead, Write};
use std::path::PathBuf;
use std::time::Duration;

flag_set! {
    /// brine-cloud's flags.
    pub enum CloudFlag {
        ConfigDir => valued(Some('c'), "config-dir", "DIR", "Read the cloud files (cloud, cloud.providers, cloud.profiles and their .d directories) and the master configuration from DIR (default /etc/brine)."),
        Profile => valued(Some('p'), "profile", "PROFILE", "Create and deploy each NAME with PROFILE."),
        MapFile => valued(Some('m'), "map", "FILE", "Create and deploy every machine of the map FILE ({profile: [name | {name: {overrides}}]}); machines brine-cloud already created are left alone."),
        Parallel => switch(Some('P'), "parallel", "With -m, deploy the machines at the same time, each with its own SSH sessions and master connection."),
        Destroy => switch(Some('d'), "destroy", "Destroy each NAME: stop and remove its minion, delete its key."),
        AssumeYes => switch(Some('y'), "assume-yes", "Do not ask before destroying."),
        ListProviders => switch(None, "list-providers", "List the configured providers as {alias: {driver: {}}}."),
        ListProfiles => valued(None, "list-profiles", "PROVIDER", "List the profiles of PROVIDER (all for 'all')."),
        Query => switch(Some('Q'), "query", "List the machines brine-cloud created, by provider."),
        NoDeploy => switch(None, "no-deploy", "Create without deploying a minion."),
        KeepTmp => switch(Some('k'), "keep-tmp", "Leave the deploy's temporary directory on the machine."),
        ShowDeployArgs => switch(None, "show-deploy-args", "Include the deploy arguments in the output (secrets removed)."),
        ScriptArgs => valued(None, "script-args", "ARGS", "Arguments for the deploy script (one string, split as the shell would)."),
        Out => valued(None, "out", "OUTPUTTER", "Print results with OUTPUTTER: nested (default), json, yaml, raw, txt, quiet."),
        LogLevel => valued(Some('l'), "log-level", "LEVEL", "Log LEVEL to stderr (default warning)."),
        Help => Flag { short: Some('h'), long: "help", value: None, doc: "Print the options and exit." },
        Version => Flag { short: Some('V'), long: "version", value: None, doc: "Print the version and exit." },
    }
}

/// `brine-cloud`.
pub const TOOL: Tool = Tool {
    name: "brine-cloud",
    section: 1,
    summary: "create, deploy and destroy machines from Salt Cloud profiles and providers",
    usage: &[
        "[-c DIR] -p PROFILE NAME... [--no-deploy] [--keep-tmp] [--script-args ARGS] [--out OUTPUTTER]",
        "[-c DIR] -m FILE [-P]",
        "[-c DIR] -d [-y] NAME...",
        "[-c DIR] --list-providers | --list-profiles PROVIDER | -Q",
    ],
    description: "brine-cloud is Salt Cloud's salt-cloud for brine. It reads Salt Cloud's files from DIR: cloud (the main options), cloud.providers and cloud.providers.d/*.conf (alias: {driver: NAME, ...}), cloud.profiles and cloud.profiles.d/*.conf (name: {provider: ALIAS, ...}, with extends:). A machine's options are the main ones, then its provider's, then its profile's, then its name, as Salt's vm_config merges them.\n\nWith -p it deploys brine-minion to each NAME. The saltify driver deploys to a machine that exists: it waits for its SSH port (wait_for_port_timeout, 900 s), logs in as ssh_username (root) with key_filename, password or the SSH agent, makes a temporary directory with mode 700 under tmp_dir, uploads the minion's configuration (the minion: and grains: options, with the salt-cloud grains), its key pair and the brine-minion binary that sits next to brine-cloud, runs preflight_cmds and the deploy script (script, default brine-bootstrap, or a file found in deploy_scripts_search_path, default DIR/cloud.deploy.d; script_args and script_env), and removes the directory unless keep_tmp. brine-bootstrap installs brine-minion under BRINE_PREFIX (/usr/local), its configuration under BRINE_CONF (/etc/brine), and starts it (a systemd unit where systemd runs, else detached).\n\nThe key pair is made by the master (wheel key.gen_accept), which accepts the public key and fires salt/key for it; the private key goes to the machine only over SSH. ssh and scp run with an argument vector, never a shell string; host keys are checked against known_hosts_file (default ~/.ssh/known_hosts) unless the profile sets host_key_checking: False.\n\nEvents are fired on the master's bus as Salt Cloud fires them, salt/cloud/NAME/TASK: deploying and deploy_script for a deploy, destroying and destroyed for -d, and created when the profile sets saltify_fire_created: True (Salt's saltify fires none). Unlike Salt, no event carries a secret: every key whose name contains password, passwd, passphrase, secret, token, priv, apikey, api_key or access_key, the minion_pem, master_pem and minion_pub keys, and the rendered deploy script (script, inline_script) are removed at any depth.",
    flags: CloudFlag::TABLE,
    sections: &[
        Section {
            title: "EXIT STATUS",
            body: "0 when every machine was created or destroyed. 1 when one failed: the error names the machine and the step (keys, wait_for_port, login, upload, deploy script, destroy). 2 for a usage or configuration error, with the file, line and column of a broken file.",
        },
        Section {
            title: "FILES",
            body: "DIR/cloud, DIR/cloud.providers, DIR/cloud.providers.d/*.conf, DIR/cloud.profiles, DIR/cloud.profiles.d/*.conf, DIR/cloud.deploy.d/: the cloud configuration. DIR/master: the master's, for sock_dir and cachedir. cachedir/cloud/NAME.json: what brine-cloud knows of each machine it created (secrets removed), which -d and -Q read.",
        },
        Section {
            title: "SEE ALSO",
            body: "brine-master(8), brine-key(1), brine-minion(8)",
        },
    ],
};

/// What the command line asks for.
enum Action {
    Profile(String, Vec<String>),
    Map(PathBuf, bool),
    Destroy(Vec<String>),
    ListProviders,
    ListProfiles(String),
    Query,
}

struct CloudArgs {
    dir: PathBuf,
    action: Action,
    yes: bool,
    out: Outputter,
    opts: Map<String, Value>,
    log_level: log::LevelFilter,
}

impl CloudArgs {
    fn from_parsed(p: Parsed<CloudFlag>) -> Result<CloudArgs, CliError> {
        let names = p.positionals.clone();
        let action = if let Some(profile) = p.value(CloudFlag::Profile) {
            if names.is_empty() {
                return Err(CliError("-p needs at least one NAME".into()));
            }
            Action::Profile(profile.to_string(), names)
        } else if let Some(m) = p.value(CloudFlag::MapFile) {
            Action::Map(PathBuf::from(m), p.has(CloudFlag::Parallel))
        } else if p.has(CloudFlag::Destroy) {
            if names.is_empty() {
                return Err(CliError("-d needs at least one NAME".into()));
            }
            Action::Destroy(names)
        } else if p.has(CloudFlag::ListProviders) {
            Action::ListProviders
        } else if let Some(pr) = p.value(CloudFlag::ListProfiles) {
            Action::ListProfiles(pr.to_string())
        } else if p.has(CloudFlag::Query) {
            Action::Query
        } else {
            return Err(CliError("nothing to do: give -p PROFILE NAME..., -d NAME..., -Q, --list-providers or --list-profiles".into()));
        };
        let mut opts = Map::new();
        if p.has(CloudFlag::NoDeploy) {
            opts.insert("deploy".into(), json!(false));
        }
        if p.has(CloudFlag::KeepTmp) {
            opts.insert("keep_tmp".into(), json!(true));
        }
        if let Some(a) = p.value(CloudFlag::ScriptArgs) {
            opts.insert("script_args".into(), json!(a));
        }
        if p.has(CloudFlag::ShowDeployArgs) {
            opts.insert("show_deploy_args".into(), json!(true));
        }
        Ok(CloudArgs {
            dir: args::conf_dir(p.value(CloudFlag::ConfigDir)),
            action,
            yes: p.has(CloudFlag::AssumeYes),
            out: args::outputter(p.value(CloudFlag::Out))?,
            opts,
            log_level: args::log_level(p.value(CloudFlag::LogLevel))?,
        })
    }
}

/// The master as brine-cloud reaches it.
struct SocketMaster {
    bus: BusClient,
    max_event_size: usize,
}

impl Master for SocketMaster {
    fn fire(&mut self, tag: &str, data: Map<String, Value>) -> Result<(), String> {
        self.bus
            .fire(tag, data, self.max_event_size)
            .map_err(|e| e.to_string())
    }

    fn wheel(&mut self, fun: &str, kwarg: Map<String, Value>) -> Result<Value, String> {
        let req = Request {
            fun: format!("wheel.{fun}"),
            arg: Vec::new(),
            kwarg,
            user: Some(client::calling_user()),
            send_return: false,
        };
        let a = self
            .bus
            .call(&req, Some(Duration::from_secs(60)))
            .map_err(|e| e.to_string())?;
        if a.success {
            Ok(a.ret)
        } else {
            Err(a
                .ret
                .as_str()
                .map(str::to_string)
                .unwrap_or_else(|| a.ret.to_string()))
        }
    }
}

/// Runs brine-cloud with these arguments; returns the exit status.
pub fn main(argv: Vec<std::ffi::OsString>) -> i32 {
    let a = match args::build(&TOOL, argv, CloudArgs::from_parsed) {
        Ok(a) => a,
        Err(status) => return status,
    };
    let _ = crate::log::init(TOOL.name, a.log_level, None);
    let cloud = match CloudConfig::load(&a.dir) {
        Ok(c) => c,
        Err(e) => return fail(TOOL.name, e, EXIT_USAGE),
    };
    let master_cfg = match MasterConfig::load(&a.dir) {
        Ok((c, _)) => c,
        Err(e) => return fail(TOOL.name, e, EXIT_USAGE),
    };
    let print = |v: &Value| {
        let text = output::render(a.out, v);
        if !text.is_empty() {
            let _ = writeln!(std::io::stdout(), "{}", text.trim_end_matches('\n'));
        }
    };
    match &a.action {
        Action::ListProviders => {
            print(&cloud.list_providers());
            0
        }
        Action::ListProfiles(p) => {
            let which = if p == "all" { None } else { Some(p.as_str()) };
            print(&cloud.list_profiles(which));
            0
        }
        Action::Query => {
            print(&crate::cloud::saltify::query(&master_cfg.cachedir));
            0
        }
        Action::Profile(profile, names) => {
            let mut master = match connect(&master_cfg) {
                Ok(m) => m,
                Err(status) => return status,
            };
            let mut out = Map::new();
            let mut status = 0;
            for name in names {
                match crate::cloud::saltify::create(
                    &cloud,
                    &mut master,
                    &master_cfg.cachedir,
                    name,
                    profile,
                    &a.opts,
                ) {
                    Ok(v) => {
                        out.insert(name.clone(), v);
                    }
                    Err(e) => {
                        let _ = writeln!(std::io::stderr(), "brine-cloud: {e}");
                        out.insert(name.clone(), json!({"Error": e.to_string()}));
                        status = 1;
                    }
                }
            }
            print(&Value::Object(out));
            status
        }
        Action::Map(file, parallel) => {
            let entries = match crate::cloud::config::read_map(file) {
                Ok(e) => e,
                Err(e) => return fail(TOOL.name, e, EXIT_USAGE),
            };
            let existing: Vec<String> = crate::cloud::saltify::records(
                &master_cfg.cachedir,
                &entries
                    .iter()
                    .map(|(_, n, _)| n.clone())
                    .collect::<Vec<_>>(),
            )
            .into_iter()
            .map(|(n, _)| n)
            .collect();
            let todo: Vec<_> = entries
                .into_iter()
                .filter(|(_, n, _)| !existing.contains(n))
                .collect();
            let run_one = |profile: &str,
                           name: &str,
                           overrides: &Map<String, Value>|
             -> (String, Result<Value, String>) {
                let mut o = a.opts.clone();
                for (k, v) in overrides {
                    if k != "name" {
                        o.insert(k.clone(), v.clone());
                    }
                }
                let r = match connect(&master_cfg) {
                    Ok(mut m) => crate::cloud::saltify::create(
                        &cloud,
                        &mut m,
                        &master_cfg.cachedir,
                        name,
                        profile,
                        &o,
                    )
                    .map_err(|e| e.to_string()),
                    Err(_) => Err(format!("{name}: the master is not reachable")),
                };
                (name.to_string(), r)
            };
            let results: Vec<(String, Result<Value, String>)> = if *parallel {
                std::thread::scope(|sc| {
                    let handles: Vec<_> = todo
                        .iter()
                        .map(|(p, n, o)| sc.spawn(|| run_one(p, n, o)))
                        .collect();
                    handles.into_iter().filter_map(|h| h.join().ok()).collect()
                })
            } else {
                todo.iter().map(|(p, n, o)| run_one(p, n, o)).collect()
            };
            let mut out = Map::new();
            let mut status = 0;
            for (name, r) in results {
                match r {
                    Ok(v) => {
                        out.insert(name, v);
                    }
                    Err(e) => {
                        let _ = writeln!(std::io::stderr(), "brine-cloud: {e}");
                        out.insert(name, json!({"Error": e}));
                        status = 1;
                    }
                }
            }
            for n in existing {
                out.insert(n, json!({"Already exists": true}));
            }
            print(&Value::Object(out));
            status
        }
        Action::Destroy(names) => {
            let known = crate::cloud::saltify::records(&master_cfg.cachedir, names);
            let mut listing =
                String::from("The following virtual machines are set to be destroyed:\n");
            for (name, rec) in &known {
                let provider = rec.get("provider").and_then(Value::as_str).unwrap_or("?:?");
                let (alias, driver) = provider.split_once(':').unwrap_or((provider, ""));
                listing.push_str(&format!("  {alias}:\n    {driver}:\n      {name}\n"));
            }
            if !a.yes {
                let _ = write!(std::io::stdout(), "{listing}\nProceed? [N/y] ");
                let _ = std::io::stdout().flush();
                let mut answer = String::new();
                let _ = std::io::stdin().lock().read_line(&mut answer);
                if !answer.trim_start().starts_with(['y', 'Y']) {
                    let _ = writeln!(std::io::stdout(), "Aborting.");
                    return 0;
                }
            }
            let mut master = match connect(&master_cfg) {
                Ok(m) => m,
                Err(status) => return status,
            };
            match crate::cloud::saltify::destroy(&cloud, &mut master, &master_cfg.cachedir, names) {
                Ok(v) => {
                    print(&v);
                    0
                }
                Err(e) => fail(TOOL.name, e, 1),
            }
        }
    }
}

fn connect(cfg: &MasterConfig) -> Result<SocketMaster, i32> {
    match BusClient::connect(&client::master_socket(&cfg.sock_dir)) {
        Ok(bus) => Ok(SocketMaster {
            bus,
            max_event_size: cfg.max_event_size,
        }),
        Err(e) => Err(fail(TOOL.name, e, 1)),
    }
}
