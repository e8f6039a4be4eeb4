//! A TCP forwarder put between glint and its database, which a test stops
//! (the database becomes unreachable: connections are cut, new ones
//! refused), starts again on the same port, or pauses (connections stay
//! open but nothing passes: a frozen server, a network that drops
//! everything).

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinHandle;

pub struct Proxy {
    pub port: u16,
    target: SocketAddr,
    passing: watch::Sender<bool>,
    tasks: Arc<Mutex<Vec<JoinHandle<()>>>>,
}

impl Proxy {
    /// Listens on a free loopback port and forwards to `target`.
    pub async fn start(target: SocketAddr) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind proxy");
        let port = listener.local_addr().unwrap().port();
        let proxy = Proxy {
            port,
            target,
            passing: watch::Sender::new(true),
            tasks: Arc::default(),
        };
        proxy.serve(listener);
        proxy
    }

    fn serve(&self, listener: TcpListener) {
        let (target, tasks) = (self.target, self.tasks.clone());
        let passing = self.passing.subscribe();
        let accept = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let Ok(server) = TcpStream::connect(target).await else {
                    continue;
                };
                let (cr, cw) = client.into_split();
                let (sr, sw) = server.into_split();
                let up = tokio::spawn(pump(cr, sw, passing.clone()));
                let down = tokio::spawn(pump(sr, cw, passing.clone()));
                tasks.lock().unwrap().extend([up, down]);
            }
        });
        self.tasks.lock().unwrap().push(accept);
    }

    /// Closes every forwarded connection and stops listening: connecting
    /// is refused until [`Proxy::restart`].
    pub fn stop(&self) {
        for task in self.tasks.lock().unwrap().drain(..) {
            task.abort();
        }
    }

    /// Listens again on the same port.
    pub async fn restart(&self) {
        let listener = TcpListener::bind(("127.0.0.1", self.port))
            .await
            .expect("bind the proxy's port again");
        self.serve(listener);
    }

    /// Holds every byte, in both directions, until [`Proxy::resume`].
    pub fn pause(&self) {
        self.passing.send_replace(false);
    }

    pub fn resume(&self) {
        self.passing.send_replace(true);
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Copies one direction, each read held back while paused.
async fn pump(mut from: OwnedReadHalf, mut to: OwnedWriteHalf, mut passing: watch::Receiver<bool>) {
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = match from.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        if passing.wait_for(|p| *p).await.is_err() {
            break;
        }
        if to.write_all(&buf[..n]).await.is_err() {
            break;
        }
    }
    let _ = to.shutdown().await;
}
