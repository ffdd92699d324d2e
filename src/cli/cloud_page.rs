//! The text of `brine-cloud(5)`: Salt Cloud's files as brine-cloud reads them, the saltify
//! options, the events and what is removed from them, and how a driver is written.

use super::flags::Section;

/// The page's one-line summary.
pub const SUMMARY: &str =
    "the cloud files of brine-cloud: providers, profiles, maps, deploys and events";

/// The page's sections, in order.
pub const SECTIONS: &[Section] = &[
    Section {
        title: "FILES",
        body: "brine-cloud(1) reads Salt Cloud's files from its configuration directory DIR (-c, default /etc/brine): cloud (the main options), cloud.providers and cloud.providers.d/*.conf, cloud.profiles and cloud.profiles.d/*.conf, and deploy scripts in cloud.deploy.d. The .d files are merged in name order and then replace the main file's keys. A file that is not valid YAML stops brine-cloud with one line naming the file, line and column.\n\nA provider maps an alias to a driver and its options; a profile names a provider (alias or alias:driver) and may extend another profile:\n\n  # cloud.providers.d/hosts.conf\n  my-saltify:\n    driver: saltify\n    minion:\n      master: 10.0.0.1\n\n  # cloud.profiles.d/web.conf\n  web:\n    provider: my-saltify\n    ssh_username: root\n    key_filename: /root/.ssh/id_ed25519\n  web-eu:\n    extends: web\n    ssh_host: 10.1.0.7\n\nA machine's options are the main file's, then its provider's, then its profile's, then the overrides given for it, then its name, merged as Salt's vm_config merges them (nested maps such as minion: and grains: merged, lists replaced). A map file is {profile: [name | {name: {overrides}}]}, as Salt reads it.",
    },
    Section {
        title: "SALTIFY OPTIONS",
        body: "ssh_host (required), ssh_port (22), ssh_username (root); key_filename, password (asked through SSH_ASKPASS, never on a command line) or the SSH agent; known_hosts_file (default ~/.ssh/known_hosts: host keys are checked) or host_key_checking: False to accept any host key; ssh_gateway ([user@]host[:port], as ProxyJump); ssh_connect_timeout (10); wait_for_port_timeout (900); wait_for_passwd_maxtries (1); tmp_dir (/tmp/.saltcloud, a directory of mode 700 with a random suffix); keep_tmp; file_map ({local: remote}); preflight_cmds (each run as sh -c on the machine before the deploy script); script (brine-bootstrap, or a name in deploy_scripts_search_path, default DIR/cloud.deploy.d, as NAME.sh or NAME; deploy scripts are not rendered as templates); script_args; script_env (BRINE_PREFIX and BRINE_CONF tell brine-bootstrap where to install); deploy_timeout (900); minion: (options of the minion's configuration: master, master_port, pki_dir, ...); grains:; enable_cloud_grains (true: the salt-cloud grains driver, provider and profile); brine_minion_binary (the brine-minion to install; default the one next to brine-cloud); saltify_fire_created (false, as Salt); remove_config_on_destroy (true); shutdown_on_destroy (false); deploy (true).",
    },
    Section {
        title: "EVENTS",
        body: "Tags are salt/cloud/NAME/TASK with Salt's data: the event's keys plus event, the step's text. saltify fires deploying (executing deploy script, with kwargs: host, port, username, minion_conf, tmp_dir, script_args, script_env, key_filename, known_hosts_file, vm_, ...) and deploy_script (NAME has been deployed at HOST, with name and host) on -p, created (created instance) with saltify_fire_created, and destroying and destroyed on -d. filter_events: {TASK: {keys: [...], use_defaults: BOOL}} chooses the keys of created as Salt's filter_event does. The master fires salt/key (act accept) for the key it makes, where Salt writes it silently.\n\nRemoved from every event, at any depth (Salt leaves the SSH password, the new minion's private key and provider credentials in deploying): every key whose name contains password, passwd, passphrase, secret, token, priv, apikey, api_key or access_key; minion_pem, master_pem and minion_pub; script and inline_script (the deploy script). The private key from the master's key.gen and key.gen_accept is left out of their salt/wheel/JID/ret events too.",
    },
    Section {
        title: "WRITING A DRIVER",
        body: "A driver is one file under src/cloud/ that gives create and destroy over a machine's merged options (a serde_json map) and a Master (fire an event, call a wheel function); saltify.rs is the model. create makes the machine (an HTTP API call for a cloud, off any event loop: brine-cloud is a command), fires creating, requesting and the driver's other steps with events::data and events::filter, then hands the machine's address to the deploy steps of deploy.rs and saltify.rs (wait for SSH, upload, run the script), and fires created. destroy fires destroying, removes the machine, and fires destroyed; brine-cloud deletes its key. Secrets never go into an event: build the data from the options and let events::data scrub it.",
    },
];
