//! A loopback HTTP/1.1 receiver for sink tests: records every request (headers, body, arrival
//! time) and answers as the test's script says (a status, headers, a body, after a stall).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

#[derive(Debug, Clone)]
pub struct Received {
    pub method: String,
    pub path: String,
    /// Lowercase names.
    pub headers: HashMap<String, String>,
    pub body: Vec<u8>,
    /// Wall clock at arrival (compared with the payload's `enqueued_at`).
    pub at: SystemTime,
}

impl Received {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).expect("a JSON body")
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(String::as_str)
    }
}

/// What to answer. `stall` first: the answer comes after it (or never, if the client gives up).
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
    pub stall: Option<Duration>,
}

impl Answer {
    pub fn status(status: u16) -> Answer {
        Answer {
            status,
            headers: Vec::new(),
            body: String::new(),
            stall: None,
        }
    }

    pub fn with_header(mut self, k: &str, v: &str) -> Answer {
        self.headers.push((k.into(), v.into()));
        self
    }

    pub fn with_body(mut self, b: &str) -> Answer {
        self.body = b.into();
        self
    }

    pub fn after(mut self, d: Duration) -> Answer {
        self.stall = Some(d);
        self
    }
}

type Script = Arc<dyn Fn(usize, &Received) -> Answer + Send + Sync>;

#[derive(Clone)]
pub struct Receiver {
    log: Arc<Mutex<Vec<Received>>>,
    script: Arc<Mutex<Script>>,
    addr: SocketAddr,
}

impl Receiver {
    /// Answers 200 to everything until [`Receiver::script`] says otherwise.
    pub fn start() -> Receiver {
        let (tx, rx) = std::sync::mpsc::channel();
        let log: Arc<Mutex<Vec<Received>>> = Arc::default();
        let script: Arc<Mutex<Script>> = Arc::new(Mutex::new(Arc::new(|_, _| {
            Answer::status(200).with_body("ok")
        })));
        let (l, s) = (log.clone(), script.clone());
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
                tx.send(listener.local_addr().unwrap()).unwrap();
                loop {
                    let Ok((stream, _)) = listener.accept().await else {
                        continue;
                    };
                    let (l, s) = (l.clone(), s.clone());
                    tokio::spawn(async move {
                        let _ = serve(stream, l, s).await;
                    });
                }
            });
        });
        let addr = rx.recv().unwrap();
        Receiver { log, script, addr }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Sets how requests are answered: `f(n, request)` with `n` counting from 0.
    pub fn script(&self, f: impl Fn(usize, &Received) -> Answer + Send + Sync + 'static) {
        *self.script.lock().unwrap() = Arc::new(f);
    }

    pub fn received(&self) -> Vec<Received> {
        self.log.lock().unwrap().clone()
    }
}

async fn serve(
    mut stream: TcpStream,
    log: Arc<Mutex<Vec<Received>>>,
    script: Arc<Mutex<Script>>,
) -> std::io::Result<()> {
    loop {
        let mut buf = Vec::new();
        let mut chunk = [0u8; 8192];
        let head_end = loop {
            if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break i + 4;
            }
            let n = stream.read(&mut chunk).await?;
            if n == 0 {
                return Ok(());
            }
            buf.extend_from_slice(&chunk[..n]);
        };
        let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
        let mut lines = head.split("\r\n");
        let mut first = lines.next().unwrap_or("").split(' ');
        let method = first.next().unwrap_or("").to_owned();
        let path = first.next().unwrap_or("").to_owned();
        let headers: HashMap<String, String> = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
            .collect();
        let len: usize = headers
            .get("content-length")
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        let mut body = buf[head_end..].to_vec();
        while body.len() < len {
            let n = stream.read(&mut chunk).await?;
            if n == 0 {
                return Ok(());
            }
            body.extend_from_slice(&chunk[..n]);
        }
        let req = Received {
            method,
            path,
            headers,
            body,
            at: SystemTime::now(),
        };
        let n = {
            let mut l = log.lock().unwrap();
            l.push(req.clone());
            l.len() - 1
        };
        let f = script.lock().unwrap().clone();
        let answer = f(n, &req);
        if let Some(d) = answer.stall {
            tokio::time::sleep(d).await;
        }
        let mut out = format!(
            "HTTP/1.1 {} X\r\nContent-Length: {}\r\n",
            answer.status,
            answer.body.len()
        );
        for (k, v) in &answer.headers {
            out.push_str(&format!("{k}: {v}\r\n"));
        }
        out.push_str("\r\n");
        out.push_str(&answer.body);
        stream.write_all(out.as_bytes()).await?;
    }
}
