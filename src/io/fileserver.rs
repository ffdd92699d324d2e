//! The master's file-server workers: minions' requests for `salt://` files, hashes and
//! listings, and for their pillar, answered on threads so that disk reads, hashing and
//! template rendering never hold up the event loop.
//!
//! The loop hands each request over with [`Workers::submit`]; a worker answers it and wakes
//! the loop, which seals the answer to the minion's session. A file goes out in chunks of
//! `file_buffer_size`, one per request, so a big file never sits whole in memory. Each
//! worker keeps its own roots and hash cache (no lock is held while a file is hashed);
//! SIGHUP hands them a new configuration.

use crate::config::MasterConfig;
use crate::fileserver::{serve, FsError, Roots};
use crate::master::FileWork;
use crate::proto::Load;
use serde_json::{json, Value};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};

/// Worker threads: two, so one minion's big file does not hold up another's listing.
const THREADS: usize = 2;

/// What the workers need of the master's configuration.
#[derive(Debug, Clone)]
pub struct FsConfig {
    /// The master's whole configuration (pillar templates see it as `opts`).
    pub master: Arc<MasterConfig>,
    /// Changes with every reload, so a worker knows to rebuild its roots.
    pub generation: u64,
}

/// What a worker is asked to do.
enum Job {
    /// A minion's request.
    Minion(Box<FileWork>),
    /// The master's own pillar, for the reactor: its id and grains.
    MasterPillar(String, serde_json::Map<String, Value>),
}

/// What a worker did.
#[derive(Debug)]
pub enum Done {
    /// Answered a minion's request.
    Minion(Box<Answered>),
    /// Compiled the master's own pillar.
    MasterPillar(serde_json::Map<String, Value>),
}

/// A worker's answer to one request.
#[derive(Debug)]
pub struct Answered {
    /// The request (and where the answer goes).
    pub work: FileWork,
    /// Whether the request was carried out.
    pub ok: bool,
    /// The answer, or why not.
    pub ret: Value,
    /// The bytes of a file chunk.
    pub bin: Option<Vec<u8>>,
}

/// The worker threads of one master.
pub struct Workers {
    jobs: Option<mpsc::Sender<(Arc<FsConfig>, Job)>>,
    done: mpsc::Receiver<Done>,
    config: Arc<FsConfig>,
    threads: Vec<std::thread::JoinHandle<()>>,
}

impl Workers {
    /// Starts the workers; each answer wakes the loop through `waker`.
    pub fn start(master: &MasterConfig, waker: Arc<mio::Waker>) -> std::io::Result<Workers> {
        let (jobs_tx, jobs_rx) = mpsc::channel::<(Arc<FsConfig>, Job)>();
        let (done_tx, done) = mpsc::channel();
        let jobs_rx = Arc::new(Mutex::new(jobs_rx));
        let mut threads = Vec::new();
        for n in 0..THREADS {
            let rx = jobs_rx.clone();
            let tx = done_tx.clone();
            let waker = waker.clone();
            threads.push(
                std::thread::Builder::new()
                    .name(format!("fileserver-{n}"))
                    .spawn(move || worker(&rx, &tx, &waker))?,
            );
        }
        Ok(Workers {
            jobs: Some(jobs_tx),
            done,
            config: Arc::new(FsConfig {
                master: Arc::new(master.clone()),
                generation: 0,
            }),
            threads,
        })
    }

    /// A reloaded configuration, for the requests from now on.
    pub fn set_config(&mut self, master: &MasterConfig) {
        self.config = Arc::new(FsConfig {
            master: Arc::new(master.clone()),
            generation: self.config.generation + 1,
        });
    }

    /// Queues a request for the next free worker.
    pub fn submit(&mut self, work: FileWork) {
        self.send(Job::Minion(Box::new(work)));
    }

    /// Compiles the master's own pillar (minion id `id`, these grains) for the reactor.
    pub fn compile_master_pillar(&mut self, id: String, grains: serde_json::Map<String, Value>) {
        self.send(Job::MasterPillar(id, grains));
    }

    fn send(&mut self, job: Job) {
        if let Some(tx) = &self.jobs {
            if tx.send((self.config.clone(), job)).is_err() {
                log::error!("the file-server workers have stopped; a request goes unanswered");
            }
        }
    }

    /// The answers that are ready.
    pub fn finished(&mut self) -> Vec<Done> {
        self.done.try_iter().collect()
    }
}

impl Drop for Workers {
    fn drop(&mut self) {
        // Closing the channel ends the workers once they finish what they hold.
        self.jobs = None;
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

/// One worker: its roots are rebuilt when the configuration changes.
fn worker(
    jobs: &Mutex<mpsc::Receiver<(Arc<FsConfig>, Job)>>,
    done: &mpsc::Sender<Done>,
    waker: &mio::Waker,
) {
    let mut state: Option<(u64, Result<Roots, FsError>)> = None;
    loop {
        let next = match jobs.lock() {
            Ok(rx) => rx.recv(),
            Err(_) => return,
        };
        let (cfg, work) = match next {
            Ok((cfg, Job::Minion(work))) => (cfg, *work),
            Ok((cfg, Job::MasterPillar(id, grains))) => {
                let p = crate::pillar::for_minion(&cfg.master.values(), &id, &grains, None);
                if let Some(errors) = crate::pillar::render_errors(&p) {
                    log::error!("the master's own pillar: {}", errors.join(" "));
                }
                if done.send(Done::MasterPillar(p)).is_err() {
                    return;
                }
                let _ = waker.wake();
                continue;
            }
            Err(_) => return,
        };
        if state.as_ref().map(|(g, _)| *g) != Some(cfg.generation) {
            state = Some((cfg.generation, roots_of(&cfg.master)));
        }
        let Some((_, roots)) = state.as_mut() else {
            continue;
        };
        let (ok, ret, bin) = answer(&cfg, roots, &work);
        if done
            .send(Done::Minion(Box::new(Answered { work, ok, ret, bin })))
            .is_err()
        {
            return;
        }
        let _ = waker.wake();
    }
}

/// The roots of `file_roots`, with the ignore lists.
pub fn roots_of(cfg: &MasterConfig) -> Result<Roots, FsError> {
    crate::fileserver::local_roots(&cfg.values())
}

/// The answer to one request: (ok, value, bytes).
fn answer(
    cfg: &FsConfig,
    roots: &mut Result<Roots, FsError>,
    work: &FileWork,
) -> (bool, Value, Option<Vec<u8>>) {
    if let Load::Pillar { pillarenv, .. } = &work.req.load {
        let p = crate::pillar::for_minion(
            &cfg.master.values(),
            &work.req.id,
            &work.grains,
            pillarenv.as_deref(),
        );
        if let Some(errors) = crate::pillar::render_errors(&p) {
            log::warn!("the pillar of {}: {}", work.req.id, errors.join(" "));
        }
        return (true, Value::Object(p), None);
    }
    let roots = match roots {
        Ok(r) => r,
        Err(e) => return (false, json!(format!("file_roots: {e}")), None),
    };
    let refused = |e: FsError| {
        log::warn!("refused a file request from {}: {e}", work.req.id);
        (false, json!(e.to_string()), None)
    };
    match &work.req.load {
        Load::FileList { saltenv, prefix } => match serve::file_list(roots, saltenv, prefix) {
            Ok(list) => (true, json!(list), None),
            Err(e) => refused(e),
        },
        Load::FileEnvs {} => (true, json!(roots.envs()), None),
        Load::FileHash { path, saltenv } => match serve::file_hash(roots, saltenv, path) {
            Ok(Some((hsum, kind))) => (true, json!({"hsum": hsum, "hash_type": kind}), None),
            Ok(None) => (true, json!({}), None),
            Err(e) => refused(e),
        },
        Load::ServeFile { path, saltenv, loc } => {
            let max = cfg.master.file_buffer_size;
            match serve::serve_chunk(roots, saltenv, path, *loc, max) {
                Ok(Some(chunk)) => (true, json!({"dest": chunk.dest}), Some(chunk.data)),
                Ok(None) => (true, json!({}), None),
                Err(e) => refused(e),
            }
        }
        _ => (false, json!("not a file-server request"), None),
    }
}
