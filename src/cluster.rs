//! A throwaway PostgreSQL server started from the server binaries on this machine: what
//! `migrate sandbox` runs for a newcomer and what the integration tests run when no server
//! URL is given. One implementation for both.
//!
//! The server listens on 127.0.0.1 on a free port (never a fixed one: other servers may hold
//! 5432), keeps its data, socket and log in one temporary directory (in memory when asked and
//! there is room: [`ClusterOptions::in_memory`]), and is tuned for throwaway use
//! (`fsync=off`). Postgres refuses to run as root, so when this process is root
//! the server runs as the `postgres` OS user. Unless the cluster is kept, the server is tied
//! to this process: on Linux the kernel sends it SIGQUIT if the thread that started it dies
//! (`PR_SET_PDEATHSIG`); elsewhere (macOS) a small watchdog shell does the same within a
//! second of this process's death. [`Cluster::stop`] or drop stops it and removes its
//! directory.

use std::fs::File;
use std::io::Read;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use thiserror::Error;

/// Environment variable naming a directory with `initdb` and `postgres`, tried first.
pub const BINDIR_ENV: &str = "MIGRATE_PG_BINDIR";

#[derive(Debug, Error)]
pub enum ClusterError {
    #[error("{dir} does not hold PostgreSQL's server binaries (initdb and postgres); pass the folder that does, e.g. /usr/lib/postgresql/17/bin")]
    NotBinaries { dir: String },
    #[error("no PostgreSQL server binaries found (initdb and postgres) in ${BINDIR_ENV}, on PATH, via `pg_config --bindir` or in /usr/lib/postgresql/*/bin; install them (Debian: apt-get install postgresql) or set {BINDIR_ENV}")]
    NoBinaries,
    #[error("running as root and there is no `postgres` OS user to run the server as (Postgres refuses root); create one (useradd --system postgres) or run as another user")]
    NoPostgresUser,
    #[error("{doing}: {source}")]
    Io {
        doing: String,
        #[source]
        source: std::io::Error,
    },
    #[error("initdb failed ({status}): {output}")]
    Initdb { status: String, output: String },
    #[error("the server did not start: {log}")]
    Start { log: String },
}

fn io(doing: impl Into<String>) -> impl FnOnce(std::io::Error) -> ClusterError {
    let doing = doing.into();
    move |source| ClusterError::Io { doing, source }
}

/// How to start a cluster.
#[derive(Debug, Clone, Default)]
pub struct ClusterOptions {
    /// Leave the server running after this process exits (it gets its own session, so a
    /// Ctrl-C in the terminal does not reach it either).
    pub keep: bool,
    /// Name of the bootstrap superuser; `postgres` when `None`. (A Supabase-like server has
    /// `supabase_admin` there, and `postgres` as an ordinary role.)
    pub superuser: Option<String>,
    /// Extra server settings (`-c name=value`), e.g. `shared_preload_libraries`.
    pub settings: Vec<(String, String)>,
    /// Start as a hot standby that never leaves recovery (a `standby.signal` and no primary):
    /// a read-only server, as a replica is, to check what runs do against one.
    pub standby: bool,
    /// The folder of `initdb` and `postgres` to use, instead of looking for them
    /// ([`find_bindir`]): another PostgreSQL version than the one installed.
    pub bindir: Option<PathBuf>,
    /// Where initialised data directories are kept, to be copied instead of running initdb
    /// again; `None`: [`default_cache_dir`]; an empty path: nowhere (initdb every time).
    pub cache_dir: Option<PathBuf>,
    /// Keep the server's directory on a file system in memory (`/dev/shm`, when it is a
    /// tmpfs with [`MEMORY_ROOM`] free), else in the temporary directory. Every table, index
    /// and database is files, and their creation and removal is most of the kernel's share of
    /// a schema's DDL: in memory the rollback proof's server spent 1.6 s of CPU instead of
    /// 2.2 s. For servers whose data is small and short-lived (scratch servers, tests), not
    /// for a sandbox a developer may load with data. Its WAL is kept small
    /// (`max_wal_size`), since it takes memory too.
    pub in_memory: bool,
}

/// The free space a file system in memory must have to take a server's directory: a scratch
/// server holds some tens of megabytes; a test suite's shared server about 1 GB at most.
pub const MEMORY_ROOM: u64 = 2 << 30;

/// The directory in memory a server's directory may go to, when there is one with room.
#[cfg(target_os = "linux")]
pub fn memory_dir() -> Option<PathBuf> {
    const TMPFS_MAGIC: i64 = 0x0102_1994;
    // SAFETY: statfs writes into the zeroed struct it is given; the path is a C string.
    let stat = unsafe {
        let mut stat: libc::statfs = std::mem::zeroed();
        if libc::statfs(c"/dev/shm".as_ptr(), &mut stat) != 0 {
            return None;
        }
        stat
    };
    let free = (stat.f_bavail as u64).saturating_mul(stat.f_bsize as u64);
    (stat.f_type as i64 == TMPFS_MAGIC && free >= MEMORY_ROOM).then(|| PathBuf::from("/dev/shm"))
}

/// The directory in memory a server's directory may go to: none off Linux.
#[cfg(not(target_os = "linux"))]
pub fn memory_dir() -> Option<PathBuf> {
    None
}

/// Environment variable naming the cache of initialised data directories.
pub const CACHE_ENV: &str = "MIGRATE_CACHE_DIR";

/// The default cache of initialised data directories: `$MIGRATE_CACHE_DIR`, else
/// `$XDG_CACHE_HOME/migrate`, else `$HOME/.cache/migrate`.
pub fn default_cache_dir() -> Option<PathBuf> {
    let var = |name: &str| {
        std::env::var_os(name)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    var(CACHE_ENV)
        .or_else(|| var("XDG_CACHE_HOME").map(|d| d.join("migrate")))
        .or_else(|| var("HOME").map(|d| d.join(".cache/migrate")))
}

/// A running throwaway server.
#[derive(Debug)]
pub struct Cluster {
    root: PathBuf,
    port: u16,
    bindir: PathBuf,
    child: Option<Child>,
    run_as: Option<(u32, u32)>,
    kept: bool,
    superuser: String,
    settings: Vec<(String, String)>,
    standby: bool,
    /// Whether its directory is in memory ([`ClusterOptions::in_memory`]).
    in_memory: bool,
    /// Off Linux: the process that stops the server if this one dies.
    watchdog: Option<Child>,
}

/// Starts a shell that sends SIGQUIT to `server` once `parent` has died: where the kernel
/// cannot tie a child's life to its parent's (no `PR_SET_PDEATHSIG` off Linux), a server
/// must not outlive a test run or a sandbox that was killed.
pub fn watch_parent(parent: u32, server: u32) -> std::io::Result<Child> {
    Command::new("/bin/sh")
        .arg("-c")
        .arg(format!(
            "while kill -0 {parent} 2>/dev/null; do sleep 1; done; kill -QUIT {server} 2>/dev/null"
        ))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
}

/// `program` of the PostgreSQL installation `bindir` belongs to: in `bindir` itself, else
/// beside the `postgres` binary that `bindir/postgres` links to (a directory of links, such
/// as /usr/local/bin pointing into /usr/lib/postgresql/15/bin). So a client tool such as
/// `pg_dump` or `psql` is the one of the server's version, not whatever PATH holds: on
/// Debian that is a Perl wrapper choosing a version, which costs about 20 ms of CPU a run.
pub fn program_of(bindir: &Path, program: &str) -> Option<PathBuf> {
    let here = bindir.join(program);
    if here.is_file() {
        return Some(here);
    }
    let real = bindir.join("postgres").canonicalize().ok()?;
    let beside = real.parent()?.join(program);
    beside.is_file().then_some(beside)
}

/// Where `initdb` and `postgres` live.
pub fn find_bindir() -> Result<PathBuf, ClusterError> {
    let has_both = |d: &Path| d.join("initdb").is_file() && d.join("postgres").is_file();
    if let Some(d) = std::env::var_os(BINDIR_ENV).map(PathBuf::from) {
        return if has_both(&d) {
            Ok(d)
        } else {
            Err(ClusterError::NoBinaries)
        };
    }
    if let Some(path) = std::env::var_os("PATH") {
        for d in std::env::split_paths(&path) {
            if has_both(&d) {
                return Ok(d);
            }
        }
    }
    if let Ok(out) = Command::new("pg_config").arg("--bindir").output() {
        let d = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
        if out.status.success() && has_both(&d) {
            return Ok(d);
        }
    }
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let v = e.file_name().to_string_lossy().parse::<u32>().ok()?;
            let d = e.path().join("bin");
            has_both(&d).then_some((v, d))
        })
        .collect();
    versions.sort();
    versions
        .pop()
        .map(|(_, d)| d)
        .ok_or(ClusterError::NoBinaries)
}

/// The uid/gid to run the server as: `postgres` when this process is root, else none.
fn server_user() -> Result<Option<(u32, u32)>, ClusterError> {
    // SAFETY: geteuid has no preconditions; getpwnam returns a pointer into static storage
    // that is read before any other call that could overwrite it.
    unsafe {
        if libc::geteuid() != 0 {
            return Ok(None);
        }
        let pw = libc::getpwnam(c"postgres".as_ptr());
        if pw.is_null() {
            return Err(ClusterError::NoPostgresUser);
        }
        Ok(Some(((*pw).pw_uid, (*pw).pw_gid)))
    }
}

fn free_port() -> Result<u16, ClusterError> {
    let l = std::net::TcpListener::bind("127.0.0.1:0").map_err(io("finding a free port"))?;
    Ok(l.local_addr().map_err(io("finding a free port"))?.port())
}

fn tail(path: &Path, lines: usize) -> String {
    let mut text = String::new();
    if let Ok(mut f) = File::open(path) {
        let _ = f.read_to_string(&mut text);
    }
    let all: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    all[all.len().saturating_sub(lines)..].join(" | ")
}

impl Cluster {
    /// Creates a cluster in a new temporary directory and starts it.
    pub fn start(opts: &ClusterOptions) -> Result<Cluster, ClusterError> {
        let bindir = match &opts.bindir {
            Some(d) if d.join("initdb").is_file() && d.join("postgres").is_file() => d.clone(),
            Some(d) => {
                return Err(ClusterError::NotBinaries {
                    dir: d.display().to_string(),
                })
            }
            None => find_bindir()?,
        };
        let run_as = server_user()?;
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let name = format!("migrate-pg-{}-{nanos}", std::process::id());
        // In memory when asked and possible; a directory that cannot be made there is made
        // in the temporary directory instead.
        let in_memory = opts
            .in_memory
            .then(memory_dir)
            .flatten()
            .map(|d| d.join(&name))
            .filter(|root| std::fs::create_dir(root).is_ok());
        let (root, in_memory) = match in_memory {
            Some(root) => (root, true),
            None => {
                let root = std::env::temp_dir().join(&name);
                std::fs::create_dir_all(&root)
                    .map_err(io(format!("creating {}", root.display())))?;
                (root, false)
            }
        };
        let cache = match &opts.cache_dir {
            Some(d) if d.as_os_str().is_empty() => None,
            Some(d) => Some(d.join("initdb")),
            None => default_cache_dir().map(|d| d.join("initdb")),
        };
        let mut cluster = Cluster {
            root,
            port: 0,
            bindir,
            child: None,
            run_as,
            kept: opts.keep,
            superuser: opts.superuser.clone().unwrap_or_else(|| "postgres".into()),
            settings: opts.settings.clone(),
            standby: opts.standby,
            in_memory,
            watchdog: None,
        };
        // From here on, a failure drops `cluster`, which removes the directory.
        cluster.kept = false;
        std::fs::set_permissions(&cluster.root, std::fs::Permissions::from_mode(0o700))
            .map_err(io("setting permissions of the cluster directory"))?;
        if let Some((uid, gid)) = run_as {
            std::os::unix::fs::chown(&cluster.root, Some(uid), Some(gid))
                .map_err(io("handing the cluster directory to the postgres user"))?;
        }
        cluster.initdb_or_copy(cache.as_deref())?;
        if cluster.standby {
            let signal = cluster.data_dir().join("standby.signal");
            File::create(&signal).map_err(io("writing standby.signal"))?;
            if let Some((uid, gid)) = run_as {
                std::os::unix::fs::chown(&signal, Some(uid), Some(gid))
                    .map_err(io("handing standby.signal to the postgres user"))?;
            }
        }
        let mut last = String::new();
        for _ in 0..5 {
            match cluster.spawn(opts.keep) {
                Ok(()) => {
                    cluster.kept = opts.keep;
                    return Ok(cluster);
                }
                Err(ClusterError::Start { log }) if log.contains("in use") => last = log,
                Err(e) => return Err(e),
            }
        }
        Err(ClusterError::Start { log: last })
    }

    fn command(&self, program: &str) -> Command {
        let mut cmd = Command::new(self.bindir.join(program));
        cmd.current_dir(&self.root).env("LC_ALL", "C");
        if let Some((uid, gid)) = self.run_as {
            cmd.uid(uid).gid(gid);
        }
        cmd
    }

    /// Makes the data directory: a copy of the cached one made by the same binaries for the
    /// same superuser when there is one (initdb takes about 1.1 s here, the copy 0.5 s), else
    /// initdb, whose result is then cached. The cache is only ever an optimisation: a copy
    /// that fails is replaced by initdb, and a cache that cannot be written is left alone.
    fn initdb_or_copy(&self, cache: Option<&Path>) -> Result<(), ClusterError> {
        let entry = cache.and_then(|c| self.cache_key().map(|k| c.join(k)));
        if let Some(entry) = &entry {
            if entry.join(CACHE_COMPLETE).is_file() {
                if copy_tree(entry, &self.data_dir(), self.run_as).is_ok() {
                    let _ = std::fs::remove_file(self.data_dir().join(CACHE_COMPLETE));
                    return Ok(());
                }
                let _ = std::fs::remove_dir_all(self.data_dir());
            }
        }
        self.initdb()?;
        if let Some(entry) = &entry {
            self.store(entry);
        }
        Ok(())
    }

    /// Caches the fresh data directory as `entry`: copied beside it, marked complete, then
    /// renamed into place, so another process sees all of it or nothing.
    fn store(&self, entry: &Path) {
        let Some(parent) = entry.parent() else { return };
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let staging = parent.join(format!(".staging-{}-{nanos}", std::process::id()));
        let stored = std::fs::create_dir_all(parent)
            .and_then(|()| copy_tree(&self.data_dir(), &staging, None))
            .and_then(|()| File::create(staging.join(CACHE_COMPLETE)).map(drop))
            .and_then(|()| std::fs::rename(&staging, entry));
        if stored.is_err() {
            let _ = std::fs::remove_dir_all(&staging);
        }
    }

    /// What a cached data directory depends on: the binaries (path, size, modification
    /// time), the superuser and the OS user the server runs as.
    fn cache_key(&self) -> Option<String> {
        use sha2::{Digest, Sha256};
        let mut h = Sha256::new();
        for program in ["initdb", "postgres"] {
            let path = self.bindir.join(program).canonicalize().ok()?;
            let meta = std::fs::metadata(&path).ok()?;
            let modified = meta
                .modified()
                .ok()?
                .duration_since(std::time::UNIX_EPOCH)
                .ok()?;
            h.update(format!(
                "{}\0{}\0{}\0",
                path.display(),
                meta.len(),
                modified.as_nanos()
            ));
        }
        h.update(format!("{}\0{:?}", self.superuser, self.run_as));
        Some(format!("{:x}", h.finalize())[..24].to_string())
    }

    fn initdb(&self) -> Result<(), ClusterError> {
        let out = self
            .command("initdb")
            .arg("-D")
            .arg(self.data_dir())
            .args(["-U", &self.superuser])
            .args(["-A", "trust", "-E", "UTF8", "--no-locale", "--no-sync"])
            .stdin(Stdio::null())
            .output()
            .map_err(io("running initdb"))?;
        if out.status.success() {
            return Ok(());
        }
        let mut output = String::from_utf8_lossy(&out.stderr).to_string();
        output.push_str(&String::from_utf8_lossy(&out.stdout));
        Err(ClusterError::Initdb {
            status: out.status.to_string(),
            output: output.split_whitespace().collect::<Vec<_>>().join(" "),
        })
    }

    fn spawn(&mut self, keep: bool) -> Result<(), ClusterError> {
        self.port = free_port()?;
        let log_path = self.log_path();
        let log = File::create(&log_path).map_err(io("creating the server log"))?;
        let log2 = log.try_clone().map_err(io("creating the server log"))?;
        let mut cmd = self.command("postgres");
        cmd.arg("-D")
            .arg(self.data_dir())
            .arg("-p")
            .arg(self.port.to_string())
            .arg("-c")
            .arg("listen_addresses=127.0.0.1")
            .arg("-c")
            .arg(format!("unix_socket_directories={}", self.root.display()))
            .args([
                "-c",
                "fsync=off",
                "-c",
                "synchronous_commit=off",
                "-c",
                "full_page_writes=off",
            ])
            .args(["-c", "max_connections=200"])
            // In memory, WAL takes memory: checkpoints come sooner (they cost little there).
            .args(if self.in_memory {
                &["-c", "max_wal_size=256MB"][..]
            } else {
                &[]
            })
            .args(
                self.settings
                    .iter()
                    .flat_map(|(k, v)| ["-c".to_string(), format!("{k}={v}")]),
            )
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log2);
        // SAFETY: the closures call only async-signal-safe functions (setsid, prctl).
        unsafe {
            if keep {
                cmd.pre_exec(|| {
                    libc::setsid();
                    Ok(())
                });
            } else {
                #[cfg(target_os = "linux")]
                cmd.pre_exec(|| {
                    libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGQUIT);
                    Ok(())
                });
            }
        }
        let child = cmd.spawn().map_err(io("starting postgres"))?;
        if !keep && !cfg!(target_os = "linux") {
            self.watchdog = Some(
                watch_parent(std::process::id(), child.id())
                    .map_err(io("starting the server's watchdog"))?,
            );
        }
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(60);
        let pid_file = self.data_dir().join("postmaster.pid");
        loop {
            if let Ok(text) = std::fs::read_to_string(&pid_file) {
                // A hot standby may report `standby` once it takes connections.
                let status = text.lines().nth(7).map(str::trim);
                if matches!(status, Some("ready" | "standby")) {
                    return Ok(());
                }
            }
            let exited = self
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten());
            if exited.is_some() || Instant::now() > deadline {
                if exited.is_none() {
                    self.kill_server();
                }
                self.child = None;
                return Err(ClusterError::Start {
                    log: tail(&log_path, 5),
                });
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn data_dir(&self) -> PathBuf {
        self.root.join("data")
    }
    pub fn log_path(&self) -> PathBuf {
        self.root.join("server.log")
    }
    /// The directory holding data, socket and log.
    pub fn root(&self) -> &Path {
        &self.root
    }
    pub fn port(&self) -> u16 {
        self.port
    }
    pub fn bindir(&self) -> &Path {
        &self.bindir
    }
    /// `program` of this server's installation ([`program_of`]).
    pub fn program(&self, program: &str) -> Option<PathBuf> {
        program_of(&self.bindir, program)
    }
    /// Process id of the postmaster.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }
    /// URL of database `db` as the superuser (trust authentication, loopback only).
    pub fn url(&self, db: &str) -> String {
        self.url_as(&self.superuser, db)
    }

    /// URL of database `db` as `user` (trust authentication, loopback only).
    pub fn url_as(&self, user: &str, db: &str) -> String {
        format!("postgres://{user}@127.0.0.1:{}/{db}", self.port)
    }

    /// Fast shutdown (SIGINT), then SIGKILL if it takes more than 10 s.
    fn kill_server(&mut self) {
        if let Some(mut watchdog) = self.watchdog.take() {
            let _ = watchdog.kill();
            let _ = watchdog.wait();
        }
        let Some(mut child) = self.child.take() else {
            return;
        };
        // SAFETY: signalling our own child process.
        unsafe {
            libc::kill(child.id() as i32, libc::SIGINT);
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = child.kill();
        let _ = child.wait();
    }

    /// Stops the server and removes its directory.
    pub fn stop(mut self) -> Result<(), ClusterError> {
        self.shutdown()
    }

    fn shutdown(&mut self) -> Result<(), ClusterError> {
        self.kill_server();
        if self.root.exists() {
            std::fs::remove_dir_all(&self.root)
                .map_err(io(format!("removing {}", self.root.display())))?;
        }
        Ok(())
    }

    /// Leaves the server running; returns the directory to stop and remove it from later.
    pub fn keep(mut self) -> PathBuf {
        self.kept = true;
        self.child = None;
        if let Some(mut watchdog) = self.watchdog.take() {
            let _ = watchdog.kill();
            let _ = watchdog.wait();
        }
        self.root.clone()
    }
}

/// The file that marks a cached data directory as complete.
const CACHE_COMPLETE: &str = "migrate-cache-complete";

/// Copies the directory `from` to `to` (which must not exist), keeping permissions, and
/// hands every copy to `owner` when given.
fn copy_tree(from: &Path, to: &Path, owner: Option<(u32, u32)>) -> std::io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new().mode(0o700).create(to)?;
    std::fs::set_permissions(to, std::fs::metadata(from)?.permissions())?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let target = to.join(entry.file_name());
        let kind = entry.file_type()?;
        if kind.is_dir() {
            copy_tree(&entry.path(), &target, owner)?;
            continue;
        } else if kind.is_symlink() {
            std::os::unix::fs::symlink(std::fs::read_link(entry.path())?, &target)?;
        } else {
            std::fs::copy(entry.path(), &target)?;
        }
        if let Some((uid, gid)) = owner {
            std::os::unix::fs::lchown(&target, Some(uid), Some(gid))?;
        }
    }
    if let Some((uid, gid)) = owner {
        std::os::unix::fs::chown(to, Some(uid), Some(gid))?;
    }
    Ok(())
}

impl Drop for Cluster {
    fn drop(&mut self) {
        if !self.kept {
            let _ = self.shutdown();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The fallback for platforms without `PR_SET_PDEATHSIG`, exercised here: when the
    /// parent dies, the watchdog stops the server.
    #[test]
    fn the_watchdog_stops_the_server_when_its_parent_dies() {
        let mut parent = Command::new("sleep").arg("60").spawn().unwrap();
        let mut server = Command::new("sleep").arg("60").spawn().unwrap();
        let mut watchdog = watch_parent(parent.id(), server.id()).unwrap();
        parent.kill().unwrap();
        parent.wait().unwrap();
        let deadline = Instant::now() + Duration::from_secs(20);
        let status = loop {
            if let Some(status) = server.try_wait().unwrap() {
                break Some(status);
            }
            if Instant::now() > deadline {
                break None;
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        let _ = server.kill();
        let _ = watchdog.wait();
        use std::os::unix::process::ExitStatusExt;
        assert_eq!(status.and_then(|s| s.signal()), Some(libc::SIGQUIT));
    }

    /// A client tool is the installation's own: in the folder itself, else beside the
    /// `postgres` a folder of links points to, else none (never a wrapper found on PATH).
    #[test]
    fn a_program_is_found_beside_the_server_the_folder_links_to() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        let (real, links) = (root.join("lib/15/bin"), root.join("local/bin"));
        std::fs::create_dir_all(&real).unwrap();
        std::fs::create_dir_all(&links).unwrap();
        for program in ["postgres", "initdb", "pg_dump"] {
            std::fs::write(real.join(program), "").unwrap();
        }
        for program in ["postgres", "initdb"] {
            std::os::unix::fs::symlink(real.join(program), links.join(program)).unwrap();
        }
        let real = real.canonicalize().unwrap();
        assert_eq!(program_of(&links, "pg_dump"), Some(real.join("pg_dump")));
        assert_eq!(program_of(&links, "psql"), None);
        std::fs::write(links.join("psql"), "").unwrap();
        assert_eq!(program_of(&links, "psql"), Some(links.join("psql")));
        assert_eq!(program_of(&real, "pg_dump"), Some(real.join("pg_dump")));
    }
}
