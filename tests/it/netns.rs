//! The address guard against real private networks. The test creates a network namespace (it
//! needs root and iproute2; elsewhere it says so and passes without running) holding a "public"
//! web server at 8.8.8.8 and fake private services at 10.0.0.1, 172.16.0.1, 192.168.0.1,
//! 100.64.0.1, 169.254.169.254, fd00::1 and the namespace's own loopback, each counting the
//! connections it accepts. Names resolve through the namespace's own /etc/hosts, so a public-
//! looking name can point at a private address (DNS rebinding). newshound runs inside the
//! namespace, with no route out of it.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use crate::common::{json_lines, rss, skip};

const PUBLIC: &str = "8.8.8.8";
const PRIVATE: &[&str] = &[
    "10.0.0.1",
    "172.16.0.1",
    "192.168.0.1",
    "100.64.0.1",
    "169.254.169.254",
    "127.0.0.1",
    "::1",
    "fd00::1",
];
const HOSTS: &str = "8.8.8.8 public.example.com\n\
                     10.0.0.1 rebind.example.com\n\
                     169.254.169.254 meta.example.com\n\
                     8.8.8.8 mixed.example.com\n\
                     10.0.0.1 mixed.example.com\n";

/// Where the public server redirects `/to/N`: every spelling of every private place.
const TARGETS: &[&str] = &[
    "http://10.0.0.1/feed.xml",
    "http://167772161/feed.xml",
    "http://012.0.0.1/feed.xml",
    "http://0xa000001/feed.xml",
    "http://[::ffff:10.0.0.1]/feed.xml",
    "http://172.16.0.1/feed.xml",
    "http://192.168.0.1/feed.xml",
    "http://100.64.0.1/feed.xml",
    "http://169.254.169.254/latest/meta-data/",
    "http://127.0.0.1/feed.xml",
    "http://[::1]/feed.xml",
    "http://[fd00::1]/feed.xml",
    "http://rebind.example.com/feed.xml",
    "http://meta.example.com/latest/meta-data/",
];

struct Netns {
    name: String,
}

impl Netns {
    fn create() -> Option<Netns> {
        if unsafe { libc::geteuid() } != 0 {
            skip("creating a network namespace needs root");
            return None;
        }
        let name = format!("nh-guard-{}", std::process::id());
        if !run("ip", &["netns", "add", &name]) {
            skip("`ip netns add` is not available here");
            return None;
        }
        let ns = Netns { name };
        assert!(ns.ip(&["link", "set", "lo", "up"]));
        for a in std::iter::once(&PUBLIC).chain(PRIVATE) {
            if *a == "127.0.0.1" || *a == "::1" {
                continue;
            }
            // On the loopback device: the namespace has no other, and no route out. An IPv6
            // address is tentative until duplicate address detection's work item has run, and
            // binding it before then fails with "Cannot assign requested address"; `nodad`
            // makes it usable at once.
            let added = if a.contains(':') {
                ns.ip(&["addr", "add", &format!("{a}/128"), "dev", "lo", "nodad"])
            } else {
                ns.ip(&["addr", "add", &format!("{a}/32"), "dev", "lo"])
            };
            assert!(added, "ip addr add {a}");
        }
        let etc = format!("/etc/netns/{}", ns.name);
        std::fs::create_dir_all(&etc).unwrap();
        std::fs::write(format!("{etc}/hosts"), HOSTS).unwrap();
        Some(ns)
    }

    fn ip(&self, args: &[&str]) -> bool {
        let mut full = vec!["-n", self.name.as_str()];
        full.extend_from_slice(args);
        run("ip", &full)
    }

    /// Binds listeners inside the namespace (from a thread that joins it; the sockets stay there).
    fn listen(&self, addrs: Vec<SocketAddr>) -> Vec<TcpListener> {
        let path = format!("/var/run/netns/{}", self.name);
        std::thread::spawn(move || {
            let f = std::fs::File::open(&path).unwrap();
            let rc =
                unsafe { libc::setns(std::os::fd::AsRawFd::as_raw_fd(&f), libc::CLONE_NEWNET) };
            assert_eq!(rc, 0, "setns: {}", std::io::Error::last_os_error());
            addrs.into_iter().map(bind_when_ready).collect()
        })
        .join()
        .unwrap()
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        run("ip", &["netns", "del", &self.name]);
        let _ = std::fs::remove_dir_all(format!("/etc/netns/{}", self.name));
    }
}

/// Binds `addr`, waiting up to 5 s for an address the kernel still holds back (the loopback's
/// own `::1` also passes through duplicate address detection when the device comes up).
fn bind_when_ready(addr: SocketAddr) -> TcpListener {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        match TcpListener::bind(addr) {
            Ok(listener) => return listener,
            Err(e)
                if e.kind() == std::io::ErrorKind::AddrNotAvailable
                    && Instant::now() < deadline =>
            {
                std::thread::sleep(Duration::from_millis(20));
            }
            Err(e) => panic!("bind {addr}: {e}"),
        }
    }
}

fn run(cmd: &str, args: &[&str]) -> bool {
    Command::new(cmd)
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Serves every connection with `reply(path)`, counting connections.
fn serve(
    listener: TcpListener,
    reply: impl Fn(&str) -> String + Send + 'static,
) -> Arc<AtomicUsize> {
    let count = Arc::new(AtomicUsize::new(0));
    let c = count.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            c.fetch_add(1, Ordering::SeqCst);
            let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
            let mut buf = Vec::new();
            let mut chunk = [0u8; 1024];
            while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
                match stream.read(&mut chunk) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => buf.extend_from_slice(&chunk[..n]),
                }
            }
            let head = String::from_utf8_lossy(&buf);
            let path = head.split_whitespace().nth(1).unwrap_or("/").to_owned();
            let _ = stream.write_all(reply(&path).as_bytes());
        }
    });
    count
}

fn feed_response() -> String {
    let body = rss(&[("1", "A story", "https://news.example/1", "")]);
    format!(
        "HTTP/1.1 200 OK\r\ncontent-type: application/rss+xml\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    )
}

#[test]
fn a_public_feed_never_reaches_a_private_address_in_any_spelling_or_through_dns() {
    let Some(ns) = Netns::create() else {
        return;
    };
    let port = |a: &str| -> SocketAddr {
        let ip: std::net::IpAddr = a.parse().unwrap();
        SocketAddr::new(ip, 80)
    };
    let mut listeners = ns.listen(
        std::iter::once(&PUBLIC)
            .chain(PRIVATE)
            .map(|a| port(a))
            .collect(),
    );
    let public_listener = listeners.remove(0);
    let public = serve(public_listener, |path| match path.strip_prefix("/to/") {
        Some(n) => {
            let target = n
                .parse::<usize>()
                .ok()
                .and_then(|i| TARGETS.get(i))
                .unwrap_or(&"/");
            format!(
                "HTTP/1.1 302 Found\r\nlocation: {target}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
            )
        }
        None => feed_response(),
    });
    let private: Vec<(&str, Arc<AtomicUsize>)> = PRIVATE
        .iter()
        .zip(listeners)
        .map(|(a, l)| (*a, serve(l, |_| feed_response())))
        .collect();

    let dir = tempfile::tempdir().unwrap();
    let mut cfg = String::from("[storage]\npath = \"db.sqlite\"\n[defaults]\ntimeout = \"3s\"\n\n");
    let mut feed = |name: &str, url: &str| {
        cfg.push_str(&format!("[[feeds]]\nname = \"{name}\"\nurl = \"{url}\"\n"));
    };
    feed("public", "http://public.example.com/feed.xml");
    feed("mixed", "http://mixed.example.com/feed.xml");
    feed("rebind", "http://rebind.example.com/feed.xml");
    feed("metadata", "http://169.254.169.254/latest/meta-data/");
    feed("lan", "http://192.168.0.1/feed.xml");
    for i in 0..TARGETS.len() {
        feed(&format!("to{i}"), &format!("http://{PUBLIC}/to/{i}"));
    }
    let config = dir.path().join("config.toml");
    std::fs::write(&config, cfg).unwrap();

    let started = Instant::now();
    let mut child = Command::new("ip")
        .args(["netns", "exec", &ns.name, crate::common::bin(), "--config"])
        .arg(&config)
        .args(["once", "--json"])
        .env_remove("NEWSHOUND_LOG")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    while child.try_wait().unwrap().is_none() {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "once finished in time"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let reports = json_lines(&stdout);
    let report = |name: &str| {
        reports
            .iter()
            .find(|r| r["feed"] == name)
            .unwrap_or_else(|| panic!("a report for {name}: {stdout}"))
            .clone()
    };

    // The set-up works: public feeds (and the public half of a mixed answer) are fetched, and a
    // feed the user configured at a LAN address works as configured.
    for ok in ["public", "mixed", "lan"] {
        assert_eq!(report(ok)["status"], "fetched", "{ok}: {}", report(ok));
    }
    // Everything else is refused by the guard.
    for name in ["rebind", "metadata"]
        .into_iter()
        .map(String::from)
        .chain((0..TARGETS.len()).map(|i| format!("to{i}")))
    {
        let r = report(&name);
        assert_eq!(r["class"], "blocked_address", "{name}: {r}");
    }
    // And not one connection reached a private service, but the LAN feed's own.
    for (addr, count) in &private {
        let expected = usize::from(*addr == "192.168.0.1");
        assert_eq!(
            count.load(Ordering::SeqCst),
            expected,
            "connections to {addr}"
        );
    }
    assert_eq!(
        public.load(Ordering::SeqCst),
        2 + TARGETS.len(),
        "the public server saw both public feeds and every redirecting one"
    );
}
