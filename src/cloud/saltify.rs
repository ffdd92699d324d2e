//! The `saltify` driver: deploy brine-minion to a machine that already exists, over SSH, and
//! take it off again (Salt's `salt/cloud/clouds/saltify.py` with `bootstrap`). Salt's saltify
//! fires only `deploying` and `deploy_script` on create, `destroying` and `destroyed` on
//! destroy; `saltify_fire_created: True` adds `created`.
//!
//! What brine-cloud created is kept in `cachedir/cloud/<name>.json` (its profile, provider
//! and where it put the minion; never a secret), which `-d` and `-Q` read.

use super::config::CloudConfig;
use super::deploy::{
    self, deploying_data, err, make_keys, minion_conf, opt, secs, CloudError, Master,
};
use super::events;
use super::ssh::{self, Ssh, SshAuth, SshTarget};
use serde_json::{json, Map, Value};
use std::path::{Path, PathBuf};
use std::time::Duration;

fn records_dir(cachedir: &Path) -> PathBuf {
    cachedir.join("cloud")
}

fn record_path(cachedir: &Path, name: &str) -> Option<PathBuf> {
    crate::pki::valid_id(name).then(|| records_dir(cachedir).join(format!("{name}.json")))
}

/// What brine-cloud knows of the named machines it created.
pub fn records(cachedir: &Path, names: &[String]) -> Vec<(String, Map<String, Value>)> {
    names
        .iter()
        .filter_map(|n| {
            let p = record_path(cachedir, n)?;
            let text = std::fs::read_to_string(p).ok()?;
            let v: Value = serde_json::from_str(&text).ok()?;
            Some((n.clone(), v.as_object()?.clone()))
        })
        .collect()
}

/// Salt's `-Q` shape over the machines brine-cloud created.
pub fn query(cachedir: &Path) -> Value {
    let mut out = Map::new();
    let Ok(dir) = std::fs::read_dir(records_dir(cachedir)) else {
        return Value::Object(out);
    };
    let mut names: Vec<String> = dir
        .filter_map(|e| {
            e.ok()?
                .file_name()
                .to_str()?
                .strip_suffix(".json")
                .map(str::to_string)
        })
        .collect();
    names.sort();
    for (name, rec) in records(cachedir, &names) {
        let provider = opt(&rec, "provider").unwrap_or("?:?").to_string();
        let (alias, driver) = provider.split_once(':').unwrap_or((&provider, ""));
        let host = rec.get("host").cloned().unwrap_or(Value::Null);
        let node = json!({"id": name, "image": null, "private_ips": [], "public_ips": [host], "size": null, "state": "running"});
        let a = out.entry(alias.to_string()).or_insert_with(|| json!({}));
        if let Some(m) = a.as_object_mut() {
            let d = m.entry(driver.to_string()).or_insert_with(|| json!({}));
            if let Some(d) = d.as_object_mut() {
                d.insert(name, node);
            }
        }
    }
    Value::Object(out)
}

/// The SSH target of a VM's options.
fn target(vm: &Map<String, Value>) -> Result<SshTarget, String> {
    let host = opt(vm, "ssh_host")
        .ok_or("no ssh_host in the profile")?
        .to_string();
    let port = match vm.get("ssh_port") {
        Some(Value::Number(n)) => n
            .as_u64()
            .and_then(|p| u16::try_from(p).ok())
            .ok_or("ssh_port is not a port")?,
        Some(Value::String(s)) => s.parse().map_err(|_| "ssh_port is not a port")?,
        _ => 22,
    };
    let username = opt(vm, "ssh_username").unwrap_or("root").to_string();
    let auth = if let Some(k) = opt(vm, "key_filename").or_else(|| opt(vm, "ssh_keyfile")) {
        SshAuth::Key(PathBuf::from(k))
    } else if let Some(p) = opt(vm, "password").or_else(|| opt(vm, "ssh_password")) {
        SshAuth::Password(p.to_string())
    } else if std::env::var_os("SSH_AUTH_SOCK").is_some() {
        SshAuth::Agent
    } else {
        return Err("no key_filename, password or SSH agent to log in with".into());
    };
    let known_hosts = if vm.get("host_key_checking") == Some(&Value::Bool(false)) {
        None
    } else {
        Some(match opt(vm, "known_hosts_file") {
            Some(f) => PathBuf::from(f),
            None => std::env::var_os("HOME")
                .map(PathBuf::from)
                .unwrap_or_else(|| PathBuf::from("/root"))
                .join(".ssh/known_hosts"),
        })
    };
    Ok(SshTarget {
        host,
        port,
        username,
        auth,
        known_hosts,
        gateway: opt(vm, "ssh_gateway").map(str::to_string),
        connect_timeout: secs(vm, "ssh_connect_timeout", 10),
    })
}

/// The deploy script's text: brine's own, or `<script>[.sh]` from the search path.
fn script_text(
    cloud: &CloudConfig,
    vm: &Map<String, Value>,
    name: &str,
) -> Result<String, CloudError> {
    let script = opt(vm, "script")
        .or_else(|| opt(vm, "os"))
        .unwrap_or("brine-bootstrap");
    if script == "brine-bootstrap" || script == "bootstrap-salt" {
        return Ok(deploy::BOOTSTRAP.to_string());
    }
    if script.contains('/') || script.starts_with('.') {
        return Err(err(
            name,
            "deploy script",
            format!("'{script}' must be a script name from deploy_scripts_search_path, not a path"),
        ));
    }
    let dirs: Vec<PathBuf> = match vm.get("deploy_scripts_search_path") {
        Some(Value::Array(l)) => l
            .iter()
            .filter_map(Value::as_str)
            .map(PathBuf::from)
            .collect(),
        Some(Value::String(s)) => vec![PathBuf::from(s)],
        _ => vec![cloud.dir.join("cloud.deploy.d")],
    };
    for d in &dirs {
        for f in [format!("{script}.sh"), script.to_string()] {
            if let Ok(t) = std::fs::read_to_string(d.join(&f)) {
                return Ok(t);
            }
        }
    }
    Err(err(
        name,
        "deploy script",
        format!(
            "no script '{script}' in {}",
            dirs.iter()
                .map(|d| d.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    ))
}

/// The brine-minion binary to install: the profile's `brine_minion_binary`, else the one
/// next to this program.
fn minion_binary(vm: &Map<String, Value>) -> PathBuf {
    if let Some(p) = opt(vm, "brine_minion_binary") {
        return PathBuf::from(p);
    }
    std::env::current_exe()
        .ok()
        .and_then(|p| p.parent().map(|d| d.join("brine-minion")))
        .unwrap_or_else(|| PathBuf::from("/usr/local/bin/brine-minion"))
}

fn ssh_err(name: &str, step: &str) -> impl Fn(ssh::CloudSshError) -> CloudError {
    let (name, step) = (name.to_string(), step.to_string());
    move |e| err(&name, &step, e)
}

/// Creates (deploys) `name` with `profile`.
pub fn create(
    cloud: &CloudConfig,
    master: &mut dyn Master,
    cachedir: &Path,
    name: &str,
    profile: &str,
    overrides: &Map<String, Value>,
) -> Result<Value, CloudError> {
    let vm = cloud
        .vm_config(name, profile, overrides)
        .map_err(|e| err(name, "config", e))?;
    let driver = opt(&vm, "driver").unwrap_or("");
    if driver != "saltify" {
        return Err(err(
            name,
            "config",
            format!("driver '{driver}' is not available; brine-cloud has saltify"),
        ));
    }
    if !crate::pki::valid_id(name) {
        return Err(err(
            name,
            "config",
            "not a valid minion id (no '/', '\\', '..', control characters; at most 255 bytes)",
        ));
    }
    let record = |extra: Map<String, Value>| -> Result<(), CloudError> {
        let mut rec = Map::new();
        for k in [
            "name",
            "profile",
            "provider",
            "driver",
            "ssh_host",
            "ssh_port",
            "ssh_username",
            "script_env",
            "minion",
        ] {
            if let Some(v) = vm.get(k) {
                rec.insert(k.to_string(), v.clone());
            }
        }
        rec.extend(extra);
        let mut v = Value::Object(rec);
        events::scrub(&mut v);
        let dir = records_dir(cachedir);
        std::fs::create_dir_all(&dir)
            .map_err(|e| err(name, "record", format!("{}: {e}", dir.display())))?;
        let p = dir.join(format!("{name}.json"));
        std::fs::write(&p, v.to_string())
            .map_err(|e| err(name, "record", format!("{}: {e}", p.display())))
    };
    if vm.get("deploy") == Some(&Value::Bool(false)) {
        record(Map::new())?;
        return Ok(json!({"deployed": false}));
    }
    let t = target(&vm).map_err(|e| err(name, "config", e))?;
    let script = script_text(cloud, &vm, name)?;
    let binary = minion_binary(&vm);
    if !binary.is_file() {
        return Err(err(
            name,
            "config",
            format!(
                "no brine-minion binary at {} (set brine_minion_binary)",
                binary.display()
            ),
        ));
    }
    let (private, public) = make_keys(master, name)?;
    let result = deploy_keys(master, &vm, &t, name, &script, &binary, &private, &public);
    match result {
        Ok(host) => {
            let mut extra = Map::new();
            extra.insert("host".into(), json!(host));
            record(extra)?;
            let mut ret = json!({"deployed": true});
            if vm.get("show_deploy_args") == Some(&Value::Bool(true)) {
                ret["deploy_kwargs"] =
                    deploying_data(&vm, &t.host, t.port, &minion_conf(&vm))["kwargs"].clone();
            }
            Ok(ret)
        }
        Err(e) => {
            // A failed deploy leaves no accepted key behind.
            let mut kw = Map::new();
            kw.insert("match".into(), json!(name));
            let _ = master.wheel("key.delete", kw);
            Err(e)
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn deploy_keys(
    master: &mut dyn Master,
    vm: &Map<String, Value>,
    t: &SshTarget,
    name: &str,
    script: &str,
    binary: &Path,
    private: &str,
    public: &str,
) -> Result<String, CloudError> {
    let conf = minion_conf(vm);
    master
        .fire(
            &events::tag(name, "deploying"),
            deploying_data(vm, &t.host, t.port, &conf),
        )
        .map_err(|e| err(name, "event", e))?;
    ssh::wait_for_port(&t.host, t.port, secs(vm, "wait_for_port_timeout", 900))
        .map_err(ssh_err(name, "wait_for_port"))?;
    let s = Ssh::new(t.clone()).map_err(ssh_err(name, "login"))?;
    let tries = vm
        .get("wait_for_passwd_maxtries")
        .and_then(Value::as_u64)
        .unwrap_or(1) as u32;
    s.wait_for_passwd(tries).map_err(ssh_err(name, "login"))?;
    let step = Duration::from_secs(120);
    let base = opt(vm, "tmp_dir").unwrap_or("/tmp/.saltcloud");
    let mut rnd = [0u8; 8];
    crate::crypto::random_bytes(&mut rnd);
    let tmp = format!(
        "{base}-{}",
        rnd.iter().map(|b| format!("{b:02x}")).collect::<String>()
    );
    s.run_ok("tmp dir", &["mkdir", "-m", "700", &tmp], step)
        .map_err(ssh_err(name, "tmp dir"))?;
    let keep = vm.get("keep_tmp") == Some(&Value::Bool(true));
    let work = || -> Result<(), CloudError> {
        s.upload_bytes(
            private.as_bytes(),
            &format!("{tmp}/minion.pem"),
            0o600,
            step,
        )
        .map_err(ssh_err(name, "upload"))?;
        s.upload_bytes(public.as_bytes(), &format!("{tmp}/minion.pub"), 0o644, step)
            .map_err(ssh_err(name, "upload"))?;
        let yaml = crate::py::yaml::dump(&Value::Object(conf.clone()));
        s.upload_bytes(yaml.as_bytes(), &format!("{tmp}/minion"), 0o600, step)
            .map_err(ssh_err(name, "upload"))?;
        s.upload(binary, &format!("{tmp}/brine-minion"), 0o755, step)
            .map_err(ssh_err(name, "upload"))?;
        s.upload_bytes(script.as_bytes(), &format!("{tmp}/deploy.sh"), 0o700, step)
            .map_err(ssh_err(name, "upload"))?;
        if let Some(Value::Object(files)) = vm.get("file_map") {
            for (local, remote) in files {
                let remote = remote.as_str().unwrap_or(local);
                s.upload(Path::new(local), remote, 0o644, step)
                    .map_err(ssh_err(name, "file_map"))?;
            }
        }
        if let Some(Value::Array(cmds)) = vm.get("preflight_cmds") {
            for c in cmds.iter().filter_map(Value::as_str) {
                s.run_ok("preflight_cmds", &["sh", "-c", c], step)
                    .map_err(ssh_err(name, "preflight_cmds"))?;
            }
        }
        let mut argv: Vec<String> = vec!["env".into()];
        if let Some(Value::Object(env)) = vm.get("script_env") {
            for (k, v) in env {
                let v = match v {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                argv.push(format!("{k}={v}"));
            }
        }
        argv.push("sh".into());
        argv.push(format!("{tmp}/deploy.sh"));
        if let Some(a) = opt(vm, "script_args") {
            argv.extend(a.split_whitespace().map(str::to_string));
        }
        let refs: Vec<&str> = argv.iter().map(String::as_str).collect();
        s.run_ok("deploy script", &refs, secs(vm, "deploy_timeout", 900))
            .map_err(ssh_err(name, "deploy script"))?;
        Ok(())
    };
    let done = work();
    if !keep {
        let _ = s.run_ok("cleanup", &["rm", "-rf", &tmp], step);
    }
    done?;
    let mut d = Map::new();
    d.insert("name".into(), json!(name));
    d.insert("host".into(), json!(t.host));
    let text = format!("{name} has been deployed at {}", t.host);
    master
        .fire(&events::tag(name, "deploy_script"), events::data(&text, d))
        .map_err(|e| err(name, "event", e))?;
    if vm.get("saltify_fire_created") == Some(&Value::Bool(true)) {
        let created = events::filter(
            "created",
            vm,
            events::DEFAULT_KEYS,
            vm.get("filter_events").unwrap_or(&Value::Null),
        );
        master
            .fire(
                &events::tag(name, "created"),
                events::data("created instance", created),
            )
            .map_err(|e| err(name, "event", e))?;
    }
    Ok(t.host.clone())
}

/// Destroys the named machines: stops their minion, removes its configuration and keys
/// (`remove_config_on_destroy`, default true), optionally shuts them down
/// (`shutdown_on_destroy`), deletes their key from the master. Salt's `-d` shape.
pub fn destroy(
    cloud: &CloudConfig,
    master: &mut dyn Master,
    cachedir: &Path,
    names: &[String],
) -> Result<Value, CloudError> {
    let mut out = Map::new();
    let mut missing = Vec::new();
    let known = records(cachedir, names);
    for n in names {
        let Some((_, rec)) = known.iter().find(|(k, _)| k == n) else {
            missing.push(json!(n));
            continue;
        };
        let profile = opt(rec, "profile").unwrap_or("");
        let vm = cloud
            .vm_config(n, profile, &Map::new())
            .map_err(|e| err(n, "config", e))?;
        let mut d = Map::new();
        d.insert("name".into(), json!(n));
        master
            .fire(
                &events::tag(n, "destroying"),
                events::data("destroying instance", d.clone()),
            )
            .map_err(|e| err(n, "event", e))?;
        let t = target(&vm).map_err(|e| err(n, "config", e))?;
        let s = Ssh::new(t).map_err(ssh_err(n, "login"))?;
        let step = Duration::from_secs(60);
        let env = vm.get("script_env").and_then(Value::as_object);
        let get = |k: &str, d: &str| {
            env.and_then(|e| e.get(k))
                .and_then(Value::as_str)
                .unwrap_or(d)
                .to_string()
        };
        let conf = get("BRINE_CONF", "/etc/brine");
        let pki = vm
            .get("minion")
            .and_then(|m| m.get("pki_dir"))
            .and_then(Value::as_str)
            .map(str::to_string)
            .unwrap_or(format!("{conf}/pki/minion"));
        // Values reach the shell as arguments ($1, $2), never inside the script's text.
        let stop = r#"if [ -f "$1/brine-minion.pid" ]; then kill "$(cat "$1/brine-minion.pid")" 2>/dev/null || true; fi
if command -v systemctl >/dev/null 2>&1 && [ -f /etc/systemd/system/brine-minion.service ]; then systemctl disable --now brine-minion || true; fi"#;
        s.run_ok(
            "stop minion",
            &["sh", "-c", stop, "brine-destroy", &conf],
            step,
        )
        .map_err(ssh_err(n, "stop minion"))?;
        if vm.get("remove_config_on_destroy") != Some(&Value::Bool(false)) {
            s.run_ok(
                "remove config",
                &[
                    "rm",
                    "-rf",
                    &format!("{conf}/minion"),
                    &format!("{conf}/brine-minion.pid"),
                    &pki,
                ],
                step,
            )
            .map_err(ssh_err(n, "remove config"))?;
        }
        if vm.get("shutdown_on_destroy") == Some(&Value::Bool(true)) {
            let _ = s.run_ok("shutdown", &["shutdown", "-h", "now"], step);
        }
        let mut kw = Map::new();
        kw.insert("match".into(), json!(n));
        master
            .wheel("key.delete", kw)
            .map_err(|e| err(n, "key", e))?;
        master
            .fire(
                &events::tag(n, "destroyed"),
                events::data("destroyed instance", d),
            )
            .map_err(|e| err(n, "event", e))?;
        if let Some(p) = record_path(cachedir, n) {
            let _ = std::fs::remove_file(p);
        }
        let provider = opt(rec, "provider").unwrap_or("?:saltify").to_string();
        let (alias, driver) = provider.split_once(':').unwrap_or((&provider, "saltify"));
        let entry = out.entry(alias.to_string()).or_insert_with(|| json!({}));
        if let Some(m) = entry.as_object_mut() {
            let d = m.entry(driver.to_string()).or_insert_with(|| json!({}));
            if let Some(d) = d.as_object_mut() {
                d.insert(
                    n.clone(),
                    json!({"Destroyed": format!("{n} was destroyed.")}),
                );
            }
        }
    }
    if !missing.is_empty() {
        out.insert("Not Found".into(), Value::Array(missing));
    }
    Ok(Value::Object(out))
}
