//! Helpers of the `zombies serve` tests: the agent as a child process, a raw HTTP client, real
//! zombies made by a forked "leaker", and a fake Kubernetes pod made of real cgroups (v1 pids
//! hierarchy) plus kubelet-style log directories. Everything is removed in `Drop`.
#![allow(dead_code)]

// The helpers every test of this crate shares (the binary, unique names, tools, polling, /proc).
#[path = "../common/mod.rs"]
mod common;
#[allow(unused_imports)]
pub use common::{
    podman, podman_ok, poll, poll_until, require_root, require_tool, signal, unique, wait_until,
    zombie_children, zombies_bin, BusyboxImage,
};

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

pub fn temp_dir(prefix: &str) -> TempDir {
    let p = std::env::temp_dir().join(unique(prefix));
    std::fs::create_dir_all(&p).unwrap();
    TempDir(p)
}

pub struct TempDir(pub PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// `zombies serve` on a free loopback port.
pub struct Agent {
    pub child: Child,
    pub addr: SocketAddr,
    /// Every stderr line (log line) so far.
    pub log: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

impl Agent {
    pub fn start(extra: &[&str]) -> Agent {
        Self::start_with(Command::new(zombies_bin()), extra)
    }

    /// Starts `cmd` (the zombies binary, possibly wrapped) with `serve --listen 127.0.0.1:0`.
    pub fn start_with(mut cmd: Command, extra: &[&str]) -> Agent {
        cmd.args(["serve", "--listen", "127.0.0.1:0"])
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().expect("spawn zombies serve");
        let stderr = child.stderr.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        let log = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let log2 = log.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                log2.lock().unwrap().push(line.clone());
                if let Some(rest) = line.split("listening on http://").nth(1) {
                    // `listening on http://ADDR/metrics`, in a logfmt or JSON log line.
                    let _ = tx.send(rest.split('/').next().unwrap_or_default().to_string());
                }
                eprintln!("[agent] {line}");
            }
        });
        let addr = rx
            .recv_timeout(Duration::from_secs(20))
            .expect("zombies serve did not say where it listens within 20 s");
        Agent {
            child,
            addr: addr.parse().unwrap(),
            log,
        }
    }

    pub fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    pub fn get(&self, path: &str, accept: Option<&str>) -> HttpResponse {
        http_get(self.addr, path, accept)
    }

    /// SIGTERM, then waits (5 s) for a clean exit; returns the exit code.
    pub fn stop(&mut self) -> Option<i32> {
        signal(self.pid(), libc::SIGTERM).expect("SIGTERM to the agent");
        let mut code = None;
        poll_until(Duration::from_secs(5), || match self.child.try_wait() {
            Ok(Some(st)) => {
                code = st.code();
                true
            }
            _ => false,
        });
        code
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

#[derive(Debug)]
pub struct HttpResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl HttpResponse {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// A raw HTTP/1.1 GET with a 10 s timeout.
pub fn http_get(addr: SocketAddr, path: &str, accept: Option<&str>) -> HttpResponse {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(5)).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.set_write_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut req = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    if let Some(a) = accept {
        req.push_str(&format!("Accept: {a}\r\n"));
    }
    req.push_str("\r\n");
    s.write_all(req.as_bytes()).unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).expect("read response");
    parse_response(&raw)
}

pub fn parse_response(raw: &[u8]) -> HttpResponse {
    let text = String::from_utf8_lossy(raw).into_owned();
    let (head, body) = text
        .split_once("\r\n\r\n")
        .unwrap_or_else(|| panic!("no HTTP head in {text:?}"));
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("bad status line in {head:?}"));
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect();
    let chunked = headers.iter().any(|(k, v)| {
        k.eq_ignore_ascii_case("transfer-encoding") && v.eq_ignore_ascii_case("chunked")
    });
    let body = if chunked {
        dechunk(body)
    } else {
        body.to_string()
    };
    HttpResponse {
        status,
        headers,
        body,
    }
}

fn dechunk(mut s: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = s.split_once("\r\n") {
        let n = usize::from_str_radix(size.split(';').next().unwrap().trim(), 16).unwrap_or(0);
        if n == 0 || rest.len() < n {
            break;
        }
        out.push_str(&rest[..n]);
        s = rest[n..].strip_prefix("\r\n").unwrap_or(&rest[n..]);
    }
    out
}

/// The value of the sample `name{labels}` (labels exactly as printed) in a 0.0.4 exposition.
pub fn sample(body: &str, series: &str) -> Option<f64> {
    body.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}

/// A forked process named `comm` that makes one zombie child per `make(n)`: each child exits at
/// once and the leaker never waits for it. On drop it reaps them all and exits.
pub struct Leaker {
    pub pid: i32,
    ctl: libc::c_int,
}

impl Leaker {
    /// Forks the leaker; when `cgroup_procs` is given, moves it there before it makes zombies.
    // The leaker is a forked child of a multi-threaded test: it may only make async-signal-safe
    // libc calls, which std cannot express.
    #[allow(unsafe_code)]
    pub fn new(comm: &str, cgroup_procs: Option<&Path>) -> Leaker {
        let mut fds = [0; 2];
        // SAFETY: `fds` is a valid array of two c_ints for pipe2 to fill.
        assert_eq!(unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) }, 0);
        let name = std::ffi::CString::new(comm).unwrap();
        // SAFETY: the child only calls async-signal-safe functions (prctl, read, fork, _exit,
        // waitpid, close) before exiting.
        let pid = unsafe { libc::fork() };
        assert!(pid >= 0, "fork failed");
        if pid == 0 {
            // SAFETY: in the forked child only async-signal-safe calls follow, on descriptors
            // and buffers it owns (`name` is a valid C string made before the fork); it never
            // returns into the test harness: it leaves by _exit.
            unsafe {
                libc::close(fds[1]);
                // Keep only our control pipe: a leaker forked by a test running in parallel
                // must not hold another leaker's write end (its end of file is the order to
                // reap and exit).
                for fd in 3..4096 {
                    if fd != fds[0] {
                        libc::close(fd);
                    }
                }
                libc::prctl(libc::PR_SET_NAME, name.as_ptr() as libc::c_ulong, 0, 0, 0);
                let mut b = [0u8; 1];
                loop {
                    let n = libc::read(fds[0], b.as_mut_ptr() as *mut libc::c_void, 1);
                    if n == 1 {
                        if libc::fork() == 0 {
                            libc::_exit(0);
                        }
                    } else if n == 0 || *libc::__errno_location() != libc::EINTR {
                        while libc::waitpid(-1, std::ptr::null_mut(), 0) > 0 {}
                        libc::_exit(0);
                    }
                }
            }
        }
        // SAFETY: closes this process's copy of the child's read end, used no more here.
        unsafe { libc::close(fds[0]) };
        if let Some(procs) = cgroup_procs {
            std::fs::write(procs, pid.to_string())
                .unwrap_or_else(|e| panic!("move {pid} to {}: {e}", procs.display()));
        }
        Leaker { pid, ctl: fds[1] }
    }

    /// Makes `n` more zombies and waits (10 s) until the leaker holds `total` of them.
    #[allow(unsafe_code)] // write(2) on the leaker's control pipe, held as a raw descriptor
    pub fn make(&self, n: usize, total: usize) {
        let buf = vec![b'z'; n];
        assert_eq!(
            // SAFETY: `ctl` is our open write end (closed only in drop); `buf` holds `n` bytes.
            unsafe { libc::write(self.ctl, buf.as_ptr() as *const libc::c_void, n) },
            n as isize
        );
        wait_until("the leaker's zombies", Duration::from_secs(10), || {
            zombie_children(self.pid).len() >= total
        });
    }
}

impl Drop for Leaker {
    #[allow(unsafe_code)] // close/waitpid/kill on the leaker, our child, and its control pipe
    fn drop(&mut self) {
        // SAFETY: our own write end, closed once, here.
        unsafe {
            libc::close(self.ctl);
        }
        poll_until(Duration::from_secs(5), || {
            // SAFETY: waitpid on our own child, with no status buffer.
            unsafe { libc::waitpid(self.pid, std::ptr::null_mut(), libc::WNOHANG) != 0 }
        });
        let _ = signal(self.pid, libc::SIGKILL);
        // SAFETY: waitpid on our own child, with no status buffer.
        unsafe {
            libc::waitpid(self.pid, std::ptr::null_mut(), libc::WNOHANG);
        }
    }
}

/// A Kubernetes pod as the agent sees one on a node: real cgroups
/// `/sys/fs/cgroup/pids/<unique>/kubepods/burstable/pod<uid>/<container id>` (cgroupfs driver,
/// under a `--cgroup-root`-like prefix), a pids.max on the pod, and kubelet's
/// `<logs>/pods/<ns>_<pod>_<uid>/<container>/` and `<logs>/containers/<pod>_<ns>_<container>-<id>.log`.
pub struct FakePod {
    pub namespace: String,
    pub name: String,
    pub container: String,
    pub uid: String,
    pub id: String,
    pub prefix: PathBuf,
    pub pod_dir: PathBuf,
    pub container_dir: PathBuf,
    pub logs: TempDir,
}

impl FakePod {
    pub fn new(namespace: &str, name: &str, container: &str, pids_max: u64) -> FakePod {
        require_root("the serve tests make cgroups");
        let pids = Path::new("/sys/fs/cgroup/pids");
        assert!(
            pids.join("cgroup.procs").exists(),
            "cgroup v1 pids hierarchy not mounted at /sys/fs/cgroup/pids"
        );
        let u = unique("ztest");
        let mut h: u64 = 0xcbf29ce484222325;
        for b in u.bytes() {
            h = (h ^ b as u64).wrapping_mul(0x100000001b3);
        }
        let uid = format!(
            "{:08x}-{:04x}-4{:03x}-8{:03x}-{:012x}",
            h >> 32,
            h & 0xffff,
            (h >> 16) & 0xfff,
            (h >> 4) & 0xfff,
            h & 0xffff_ffff_ffff
        );
        let id = format!("{h:016x}").repeat(4);
        let prefix = pids.join(&u);
        let pod_dir = prefix.join(format!("kubepods/burstable/pod{uid}"));
        let container_dir = pod_dir.join(&id);
        std::fs::create_dir_all(&container_dir)
            .unwrap_or_else(|e| panic!("mkdir {}: {e}", container_dir.display()));
        std::fs::write(pod_dir.join("pids.max"), pids_max.to_string()).unwrap();
        let logs = temp_dir("zombies-logs");
        std::fs::create_dir_all(
            logs.0
                .join(format!("pods/{namespace}_{name}_{uid}/{container}")),
        )
        .unwrap();
        std::fs::create_dir_all(logs.0.join("containers")).unwrap();
        std::os::unix::fs::symlink(
            format!("/var/log/pods/{namespace}_{name}_{uid}/{container}/0.log"),
            logs.0.join(format!(
                "containers/{name}_{namespace}_{container}-{id}.log"
            )),
        )
        .unwrap();
        FakePod {
            namespace: namespace.into(),
            name: name.into(),
            container: container.into(),
            uid,
            id,
            prefix,
            pod_dir,
            container_dir,
            logs,
        }
    }

    /// The agent's flags to find this pod's names.
    pub fn agent_args(&self) -> Vec<String> {
        vec![
            format!("--pods-log-root={}", self.logs.0.join("pods").display()),
            format!(
                "--containers-log-root={}",
                self.logs.0.join("containers").display()
            ),
        ]
    }

    pub fn procs(&self) -> PathBuf {
        self.container_dir.join("cgroup.procs")
    }
}

impl Drop for FakePod {
    fn drop(&mut self) {
        // Deepest first; a cgroup with tasks cannot be removed, so retry while leakers exit.
        let dirs = [
            self.container_dir.clone(),
            self.pod_dir.clone(),
            self.prefix.join("kubepods/burstable"),
            self.prefix.join("kubepods"),
            self.prefix.clone(),
        ];
        for d in dirs {
            poll_until(Duration::from_secs(5), || {
                !d.exists() || std::fs::remove_dir(&d).is_ok()
            });
        }
    }
}
