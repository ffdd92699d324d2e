//! The master's file server as a state run's child (or a `cp.*` child) reaches it: each
//! request goes to the minion over the minion's own bus socket, as the reserved call
//! `_master`, and the minion carries it on its authenticated session and hands back the
//! master's answer. The child never holds the minion's keys.

use super::cache::Remote;
use super::FsError;
use crate::bus::Request;
use crate::client::BusClient;
use serde_json::{json, Map, Value};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// How long one request to the master may take before the run gives up on it.
const ASK_TIMEOUT: Duration = Duration::from_secs(60);

/// The master's pillar and file server, through the minion's bus.
pub struct BusRemote {
    socket: PathBuf,
    client: Option<BusClient>,
}

impl BusRemote {
    /// A remote that asks through the minion bus socket at `socket` (connected on first use).
    pub fn new(socket: &Path) -> BusRemote {
        BusRemote {
            socket: socket.to_path_buf(),
            client: None,
        }
    }

    /// Sends `load` to the master; its answer, or why there is none.
    pub fn ask(&mut self, load: Value) -> Result<Value, FsError> {
        if self.client.is_none() {
            let c = BusClient::connect(&self.socket).map_err(|e| {
                FsError::Remote(format!("cannot reach the minion to ask the master: {e}"))
            })?;
            self.client = Some(c);
        }
        let Some(client) = self.client.as_mut() else {
            return Err(FsError::Remote("no connection to the minion".into()));
        };
        let mut kwarg = Map::new();
        kwarg.insert("load".into(), load);
        let req = Request {
            fun: crate::minion::MASTER_FUN.to_owned(),
            arg: Vec::new(),
            kwarg,
            user: None,
            send_return: false,
        };
        match client.call(&req, Some(ASK_TIMEOUT)) {
            Ok(a) if a.success => Ok(a.ret),
            Ok(a) => Err(FsError::Remote(format!(
                "the master: {}",
                crate::py::python_str(&a.ret)
            ))),
            Err(e) => {
                // A broken connection is not reused.
                self.client = None;
                Err(FsError::Remote(format!("asking the master: {e}")))
            }
        }
    }

    /// This minion's pillar, compiled by the master; Err holds Salt's message list.
    pub fn pillar(
        &mut self,
        pillarenv: Option<&str>,
        grains: &Map<String, Value>,
    ) -> Result<Map<String, Value>, Vec<String>> {
        let load = json!({"cmd": "_pillar", "pillarenv": pillarenv, "grains": grains});
        match self.ask(load) {
            Ok(Value::Object(p)) => Ok(p),
            Ok(other) => Err(vec![format!(
                "the master sent a pillar that is not a map: {}",
                crate::py::python_str(&other)
            )]),
            Err(FsError::Remote(why)) => {
                // The master's refusal carries its messages as a list, after "the master: ".
                Err(vec![why])
            }
            Err(e) => Err(vec![e.to_string()]),
        }
    }
}

impl Remote for BusRemote {
    fn file_hash(&mut self, saltenv: &str, path: &str) -> Result<Option<String>, FsError> {
        let r = self.ask(json!({"cmd": "_file_hash", "path": path, "saltenv": saltenv}))?;
        Ok(r.get("hsum").and_then(Value::as_str).map(str::to_owned))
    }

    fn serve_chunk(
        &mut self,
        saltenv: &str,
        path: &str,
        loc: u64,
    ) -> Result<Option<Vec<u8>>, FsError> {
        let r =
            self.ask(json!({"cmd": "_serve_file", "path": path, "saltenv": saltenv, "loc": loc}))?;
        if r.get("dest").is_none() {
            return Ok(None);
        }
        match r.get("data").and_then(Value::as_str) {
            Some(b64) => crate::crypto::base64_decode(b64)
                .map(Some)
                .map_err(|_| FsError::Remote(format!("salt://{path}: the chunk is not base64"))),
            None => Ok(Some(Vec::new())),
        }
    }

    fn file_envs(&mut self) -> Result<Vec<String>, FsError> {
        match self.ask(json!({"cmd": "_file_envs"}))? {
            Value::Array(a) => Ok(a
                .into_iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect()),
            other => Err(FsError::Remote(format!(
                "the master sent saltenvs that are not a list: {}",
                crate::py::python_str(&other)
            ))),
        }
    }

    fn file_list(&mut self, saltenv: &str, prefix: &str) -> Result<Vec<String>, FsError> {
        let r = self.ask(json!({"cmd": "_file_list", "saltenv": saltenv, "prefix": prefix}))?;
        match r {
            Value::Array(a) => Ok(a
                .into_iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect()),
            other => Err(FsError::Remote(format!(
                "the master sent a file list that is not a list: {}",
                crate::py::python_str(&other)
            ))),
        }
    }
}
