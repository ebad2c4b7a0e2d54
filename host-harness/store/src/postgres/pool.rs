//! A few threads that each own one PostgreSQL connection and run the
//! stores' statements for them.
//!
//! `postgres::Client` drives a tokio runtime of its own and panics when
//! called on a thread that is already driving one, which is where the
//! gateway's async host functions call the credential store from. On these
//! plain threads it never is; the caller blocks until its job is done, as
//! it would on SQLite's file locks.

use std::fmt;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use postgres::config::Host;
use postgres::{Client, Config, NoTls};

use atom_runtime::StoreError;

/// Enough for the gateway's concurrent calls to overlap a little; each is
/// one short statement or transaction.
const WORKERS: usize = 4;

/// A server that does not answer at all must not hold a request for long.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);

/// A connection the server or the network dropped silently is found out
/// within about a minute rather than the kernel's two hours.
const KEEPALIVE_IDLE: Duration = Duration::from_secs(30);
const KEEPALIVE_INTERVAL: Duration = Duration::from_secs(10);
const KEEPALIVE_RETRIES: u32 = 3;

/// How long a statement waits for another's lock, as SQLite's busy timeout.
const LOCK_TIMEOUT: &str = "10s";

/// A connection idle this long is checked before use: after a server
/// restart the first job would otherwise fail on the dead connection.
const CHECK_IDLE_AFTER: Duration = Duration::from_secs(5);

/// How many times a worker found its connection broken. A worker whose
/// connection is older than the last break checks it before use: when the
/// server or the network dropped one connection it likely dropped them all,
/// and a job must not be the one that finds out.
type Breaks = Arc<AtomicU64>;

/// Why a job failed.
pub(crate) enum Failure {
    /// The database (or the connection to it) failed.
    Pg(postgres::Error),
    /// The job decided the answer is an error (a conflict, an unknown
    /// tenant...): passed on as it is.
    Store(StoreError),
}

impl From<postgres::Error> for Failure {
    fn from(error: postgres::Error) -> Self {
        Failure::Pg(error)
    }
}

impl From<StoreError> for Failure {
    fn from(error: StoreError) -> Self {
        Failure::Store(error)
    }
}

type Job = Box<dyn FnOnce(&mut Worker) + Send>;

/// The connections of one process to one database, shared by its stores.
/// Cloning shares them; the threads end when the last clone is dropped.
#[derive(Clone)]
pub struct PgPool {
    shared: Arc<Shared>,
}

struct Shared {
    jobs: Sender<Job>,
    config: Arc<Config>,
    /// The URL without its password: the only form of it errors show.
    target: Arc<str>,
}

impl PgPool {
    /// Starts the workers for the database at `url`; connects lazily, so a
    /// server that is down now only fails the calls made while it is.
    pub fn new(url: &str) -> Result<Self, StoreError> {
        let mut config: Config = url.parse().map_err(|error: postgres::Error| {
            StoreError::Unavailable(format!(
                "the PostgreSQL URL is not valid: {}",
                describe_error(&error)
            ))
        })?;
        // A connect_timeout the URL sets wins: the operator knows the network.
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(CONNECT_TIMEOUT);
        }
        config
            .keepalives(true)
            .keepalives_idle(KEEPALIVE_IDLE)
            .keepalives_interval(KEEPALIVE_INTERVAL)
            .keepalives_retries(KEEPALIVE_RETRIES);
        if config.get_application_name().is_none() {
            config.application_name("atom-harness");
        }
        let target: Arc<str> = describe_target(&config).into();
        let config = Arc::new(config);
        let (jobs, queue) = mpsc::channel::<Job>();
        let queue = Arc::new(Mutex::new(queue));
        let breaks = Breaks::default();
        for index in 0..WORKERS {
            let worker = Worker {
                config: Arc::clone(&config),
                client: None,
                last_used: Instant::now(),
                breaks: Arc::clone(&breaks),
                checked_at_break: 0,
            };
            let queue = Arc::clone(&queue);
            thread::Builder::new()
                .name(format!("atom-store-pg-{index}"))
                .spawn(move || work(&queue, worker))
                .map_err(|error| {
                    StoreError::Unavailable(format!(
                        "PostgreSQL {target}: starting a database thread: {error}"
                    ))
                })?;
        }
        Ok(Self {
            shared: Arc::new(Shared {
                jobs,
                config,
                target,
            }),
        })
    }

    /// The database as errors name it: the URL without its password.
    pub fn target(&self) -> &str {
        &self.shared.target
    }

    /// How this pool connects, for a connection of its own (a listener).
    pub(crate) fn config(&self) -> Arc<Config> {
        Arc::clone(&self.shared.config)
    }

    /// Whether the database answers (`/readyz`).
    pub fn ready(&self) -> Result<(), StoreError> {
        self.run("database", "checking that it answers", |client| {
            client.batch_execute("SELECT 1")?;
            Ok(())
        })
    }

    /// Runs `job` on a worker's connection and waits for its answer. A
    /// database failure becomes `Unavailable`, naming `store`, what it was
    /// `doing` and the database, never a password.
    pub(crate) fn run<T: Send + 'static>(
        &self,
        store: &'static str,
        doing: &'static str,
        job: impl FnOnce(&mut Client) -> Result<T, Failure> + Send + 'static,
    ) -> Result<T, StoreError> {
        let (answer, answered) = mpsc::sync_channel(1);
        let boxed: Job = Box::new(move |worker: &mut Worker| {
            // The caller may have gone; the job is done either way.
            let _ = answer.send(worker.run(job));
        });
        // A job that panicked (a bug) sends no answer, and with no worker
        // left none takes the job.
        let stopped = || {
            StoreError::Unavailable(format!(
                "{store} ({}): {doing}: the database thread gave no answer",
                self.shared.target
            ))
        };
        self.shared.jobs.send(boxed).map_err(|_| stopped())?;
        match answered.recv() {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(Failure::Store(error))) => Err(error),
            Ok(Err(Failure::Pg(error))) => Err(StoreError::Unavailable(format!(
                "{store} ({}): {doing}: {}",
                self.shared.target,
                describe_error(&error)
            ))),
            Err(_) => Err(stopped()),
        }
    }
}

impl fmt::Debug for PgPool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PgPool")
            .field("target", &self.shared.target)
            .finish_non_exhaustive()
    }
}

/// One worker's connection, made when a job first needs it and dropped
/// when it fails, so the next job reconnects: a server that went away and
/// came back is used again without restarting the process.
struct Worker {
    config: Arc<Config>,
    client: Option<Client>,
    last_used: Instant,
    breaks: Breaks,
    /// The pool's break count when this connection was made or last checked.
    checked_at_break: u64,
}

impl Worker {
    fn run<T>(
        &mut self,
        job: impl FnOnce(&mut Client) -> Result<T, Failure>,
    ) -> Result<T, Failure> {
        let idle = self.last_used.elapsed();
        self.last_used = Instant::now();
        let breaks = self.breaks.load(Ordering::Acquire);
        let suspect = idle > CHECK_IDLE_AFTER || breaks != self.checked_at_break;
        self.checked_at_break = breaks;
        if let Some(client) = &mut self.client
            && (client.is_closed() || (suspect && client.is_valid(CONNECT_TIMEOUT).is_err()))
        {
            self.client = None;
        }
        let client = match &mut self.client {
            Some(client) => client,
            None => match connect(&self.config) {
                Ok(client) => self.client.insert(client),
                // The server is unreachable: the other workers' connections
                // are suspect too.
                Err(error) => {
                    self.checked_at_break = self.breaks.fetch_add(1, Ordering::AcqRel) + 1;
                    return Err(error);
                }
            },
        };
        let outcome = job(client);
        // A database error (a constraint, a conflict) leaves the connection
        // usable; anything else (I/O, a timeout, a protocol error) may not.
        let broken = match &outcome {
            Err(Failure::Pg(error)) => error.as_db_error().is_none() || client.is_closed(),
            _ => client.is_closed(),
        };
        if broken {
            self.client = None;
            self.checked_at_break = self.breaks.fetch_add(1, Ordering::AcqRel) + 1;
        }
        outcome
    }
}

fn connect(config: &Config) -> Result<Client, Failure> {
    let mut client = config.connect(NoTls)?;
    client.batch_execute(&format!("SET lock_timeout = '{LOCK_TIMEOUT}'"))?;
    Ok(client)
}

fn work(queue: &Mutex<Receiver<Job>>, mut worker: Worker) {
    loop {
        // The lock is held only while waiting for a job, not while running it.
        let job = match queue.lock() {
            Ok(queue) => queue.recv(),
            Err(_) => return,
        };
        let Ok(job) = job else {
            // Every pool handle is gone.
            return;
        };
        // A job that panics loses its answer (its caller sees the thread
        // stop) and the connection it may have left mid-transaction, not
        // the worker.
        if catch_unwind(AssertUnwindSafe(|| job(&mut worker))).is_err() {
            worker.client = None;
        }
    }
}

/// `postgres://user@host:port/dbname`: what the URL says, less its password
/// and options.
fn describe_target(config: &Config) -> String {
    let ports = config.get_ports();
    let port_of = |index: usize| ports.get(index).or(ports.first());
    let mut hosts: Vec<String> = config
        .get_hosts()
        .iter()
        .enumerate()
        .map(|(index, host)| {
            let name = match host {
                Host::Tcp(name) => name.clone(),
                #[cfg(unix)]
                Host::Unix(path) => path.display().to_string(),
            };
            match port_of(index) {
                Some(port) => format!("{name}:{port}"),
                None => name,
            }
        })
        .collect();
    if hosts.is_empty() {
        hosts = config
            .get_hostaddrs()
            .iter()
            .enumerate()
            .map(|(index, address)| match port_of(index) {
                Some(port) => format!("{address}:{port}"),
                None => address.to_string(),
            })
            .collect();
    }
    let user = config
        .get_user()
        .map(|user| format!("{user}@"))
        .unwrap_or_default();
    let dbname = config.get_dbname().unwrap_or_default();
    format!("postgres://{user}{}/{dbname}", hosts.join(","))
}

/// The error and its causes: `postgres::Error` alone says only "db error"
/// or "error connecting to server". None of them quotes the password.
fn describe_error(error: &postgres::Error) -> String {
    if let Some(db) = error.as_db_error() {
        return format!("{} ({})", db.message(), db.code().code());
    }
    let mut text = error.to_string();
    let mut cause = std::error::Error::source(error);
    while let Some(inner) = cause {
        text.push_str(": ");
        text.push_str(&inner.to_string());
        cause = inner.source();
    }
    text
}
