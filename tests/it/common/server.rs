//! A loopback HTTP/1.1 server for tests: routes set per test, every request recorded, and the
//! misbehaviours real servers have (stalls, drips, endless bodies, gzip bombs, redirects).

use std::collections::HashMap;
use std::io::Write;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

#[derive(Clone)]
pub enum Reply {
    /// A feed with validators; answers 304 when the request's validators match.
    Feed {
        body: Vec<u8>,
        content_type: &'static str,
        etag: Option<String>,
        last_modified: Option<String>,
        gzip: bool,
    },
    Status(u16, Vec<(String, String)>),
    /// A feed with extra response headers (e.g. Cache-Control).
    FeedWith(String, Vec<(String, String)>),
    Redirect(u16, String),
    /// Headers, then silence.
    Stall,
    /// 200 and bytes forever.
    Endless,
    /// A small gzip body that inflates to this many bytes.
    GzipBomb(usize),
    /// One byte every `Duration`.
    Drip(Duration),
    /// Reads the request and never answers (a stall before the headers).
    Silent,
}

impl Reply {
    pub fn feed(body: &str, etag: &str) -> Reply {
        Reply::Feed {
            body: body.as_bytes().to_vec(),
            content_type: "application/rss+xml",
            etag: Some(etag.into()),
            last_modified: None,
            gzip: false,
        }
    }
}

#[derive(Debug, Clone)]
pub struct Request {
    pub path: String,
    pub headers: HashMap<String, String>,
    pub at: std::time::Instant,
}

#[derive(Clone, Default)]
pub struct Server {
    routes: Arc<Mutex<HashMap<String, Reply>>>,
    log: Arc<Mutex<Vec<Request>>>,
    addr: Arc<Mutex<Option<SocketAddr>>>,
}

impl Server {
    /// Starts on 127.0.0.1 on an ephemeral port, on its own thread and runtime.
    pub fn start() -> Server {
        Server::start_on("127.0.0.1")
    }

    /// Starts on another loopback address (127.0.0.2, 127.0.0.3…): a distinct host for the
    /// daemon's per-host limits.
    pub fn start_on(ip: &str) -> Server {
        let ip = ip.to_owned();
        let server = Server::default();
        let s = server.clone();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                let listener = TcpListener::bind((ip.as_str(), 0)).await.unwrap();
                tx.send(listener.local_addr().unwrap()).unwrap();
                loop {
                    let Ok((stream, _)) = listener.accept().await else {
                        continue;
                    };
                    let s = s.clone();
                    tokio::spawn(async move {
                        let _ =
                            tokio::time::timeout(Duration::from_secs(60), s.serve(stream)).await;
                    });
                }
            });
        });
        let addr = rx
            .recv_timeout(Duration::from_secs(10))
            .expect("server start");
        *server.addr.lock().unwrap() = Some(addr);
        server
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr.lock().unwrap().unwrap(), path)
    }

    pub fn route(&self, path: &str, reply: Reply) {
        self.routes.lock().unwrap().insert(path.to_owned(), reply);
    }

    pub fn all_requests(&self) -> Vec<Request> {
        self.log.lock().unwrap().clone()
    }

    pub fn requests(&self, path: &str) -> Vec<Request> {
        self.log
            .lock()
            .unwrap()
            .iter()
            .filter(|r| r.path == path)
            .cloned()
            .collect()
    }

    async fn serve(&self, mut stream: TcpStream) -> std::io::Result<()> {
        let mut buf = Vec::with_capacity(2048);
        let mut chunk = [0u8; 1024];
        while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
            let n = stream.read(&mut chunk).await?;
            if n == 0 || buf.len() > 64 * 1024 {
                return Ok(());
            }
            buf.extend_from_slice(&chunk[..n]);
        }
        let head = String::from_utf8_lossy(&buf).into_owned();
        let mut lines = head.split("\r\n");
        let path = lines
            .next()
            .and_then(|l| l.split(' ').nth(1))
            .unwrap_or("/")
            .to_owned();
        let headers: HashMap<String, String> = lines
            .take_while(|l| !l.is_empty())
            .filter_map(|l| {
                l.split_once(':')
                    .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
            })
            .collect();
        self.log.lock().unwrap().push(Request {
            path: path.clone(),
            headers: headers.clone(),
            at: std::time::Instant::now(),
        });
        let reply = self.routes.lock().unwrap().get(&path).cloned();
        let Some(reply) = reply else {
            return write_all(&mut stream, 404, &[], b"not found").await;
        };
        match reply {
            Reply::Feed {
                body,
                content_type,
                etag,
                last_modified,
                gzip,
            } => {
                let inm = headers.get("if-none-match");
                let ims = headers.get("if-modified-since");
                let fresh = (etag.is_some() && inm == etag.as_ref())
                    || (etag.is_none() && last_modified.is_some() && ims == last_modified.as_ref());
                let mut h = vec![("Content-Type".to_owned(), content_type.to_owned())];
                if let Some(e) = &etag {
                    h.push(("ETag".into(), e.clone()));
                }
                if let Some(l) = &last_modified {
                    h.push(("Last-Modified".into(), l.clone()));
                }
                if fresh {
                    return write_all(&mut stream, 304, &h, b"").await;
                }
                if gzip {
                    h.push(("Content-Encoding".into(), "gzip".into()));
                    return write_all(&mut stream, 200, &h, &gzip_bytes(&body)).await;
                }
                write_all(&mut stream, 200, &h, &body).await
            }
            Reply::FeedWith(body, mut h) => {
                h.push(("Content-Type".into(), "application/rss+xml".into()));
                write_all(&mut stream, 200, &h, body.as_bytes()).await
            }
            Reply::Status(code, h) => {
                let h: Vec<_> = h.into_iter().collect();
                write_all(&mut stream, code, &h, b"error page").await
            }
            Reply::Redirect(code, location) => {
                write_all(&mut stream, code, &[("Location".into(), location)], b"").await
            }
            Reply::Stall => {
                stream.write_all(b"HTTP/1.1 200 OK\r\nContent-Type: application/rss+xml\r\nContent-Length: 100000\r\n\r\n<rss").await?;
                tokio::time::sleep(Duration::from_secs(60)).await;
                Ok(())
            }
            Reply::Endless => {
                stream.write_all(b"HTTP/1.1 200 OK\r\nContent-Type: application/rss+xml\r\nConnection: close\r\n\r\n").await?;
                let block = vec![b' '; 64 * 1024];
                loop {
                    stream.write_all(&block).await?;
                }
            }
            Reply::GzipBomb(size) => {
                let h = vec![
                    ("Content-Type".to_owned(), "application/rss+xml".to_owned()),
                    ("Content-Encoding".to_owned(), "gzip".to_owned()),
                ];
                write_all(&mut stream, 200, &h, &gzip_zeros(size)).await
            }
            Reply::Silent => {
                tokio::time::sleep(Duration::from_secs(60)).await;
                Ok(())
            }
            Reply::Drip(every) => {
                stream.write_all(b"HTTP/1.1 200 OK\r\nContent-Type: application/rss+xml\r\nContent-Length: 1000\r\n\r\n").await?;
                loop {
                    stream.write_all(b" ").await?;
                    tokio::time::sleep(every).await;
                }
            }
        }
    }
}

async fn write_all(
    stream: &mut TcpStream,
    code: u16,
    headers: &[(String, String)],
    body: &[u8],
) -> std::io::Result<()> {
    let mut head = format!(
        "HTTP/1.1 {code} X\r\nContent-Length: {}\r\nConnection: close\r\n",
        body.len()
    );
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).await?;
    stream.write_all(body).await?;
    stream.shutdown().await
}

fn gzip_bytes(body: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(body).unwrap();
    e.finish().unwrap()
}

fn gzip_zeros(size: usize) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    let block = vec![0u8; 1 << 20];
    let mut left = size;
    while left > 0 {
        let n = left.min(block.len());
        e.write_all(&block[..n]).unwrap();
        left -= n;
    }
    e.finish().unwrap()
}
