//! The connection layer shared by the REST and gRPC listeners: accepting (with a
//! cap on open connections), the TLS handshake, and deadlines that keep slow or
//! silent clients from holding the server (slowloris): the TLS handshake and the
//! first bytes of a gRPC connection must arrive within the header timeout, a REST
//! request's headers too (hyper's timer, which also closes idle keep-alive
//! connections), and a REST body within the body timeout.

use super::error::error_json;
use bytes::Bytes;
use hyper::body::{Body, Frame, Incoming, SizeHint};
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll, ready};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc, watch};
use tokio::time::{Instant, Sleep};
use tonic::transport::server::{Connected, TcpConnectInfo};

/// What the connection layer enforces (see [`ServerConfig`](super::ServerConfig)).
#[derive(Clone, Debug)]
pub(crate) struct ConnLimits {
    pub header_read_timeout: Duration,
    pub body_read_timeout: Option<Duration>,
    pub max_connections: usize,
}

/// Bytes every HTTP/2 connection starts with (RFC 9113 §3.4).
const H2_PREFACE_LEN: usize = 24;

/// A TLS record of type "handshake" opens every ClientHello.
const TLS_HANDSHAKE_RECORD: u8 = 0x16;

enum Stream {
    Plain(TcpStream),
    Tls(Box<tokio_rustls::server::TlsStream<TcpStream>>),
}

/// The first `remaining` bytes must arrive before `sleep` ends.
struct FirstBytes {
    remaining: usize,
    sleep: Pin<Box<Sleep>>,
}

/// An accepted connection, TLS already negotiated when enabled. It holds one
/// of the listener's connection permits until dropped.
pub(crate) struct Conn {
    stream: Stream,
    info: TcpConnectInfo,
    first_bytes: Option<FirstBytes>,
    _permit: OwnedSemaphorePermit,
}

impl Connected for Conn {
    type ConnectInfo = TcpConnectInfo;

    fn connect_info(&self) -> TcpConnectInfo {
        self.info.clone()
    }
}

impl AsyncRead for Conn {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = &mut *self;
        // Checked before reading, so that a client trickling one byte at a time
        // cannot keep the deadline from firing.
        if let Some(first) = &mut this.first_bytes
            && first.sleep.as_mut().poll(cx).is_ready()
        {
            return Poll::Ready(Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "the client did not start its HTTP/2 connection in time",
            )));
        }
        let before = buf.filled().len();
        let polled = match &mut this.stream {
            Stream::Plain(tcp) => Pin::new(tcp).poll_read(cx, buf),
            Stream::Tls(tls) => Pin::new(tls.as_mut()).poll_read(cx, buf),
        };
        if let (Poll::Ready(Ok(())), Some(first)) = (&polled, &mut this.first_bytes) {
            first.remaining = first.remaining.saturating_sub(buf.filled().len() - before);
            if first.remaining == 0 {
                this.first_bytes = None;
            }
        }
        polled
    }
}

impl AsyncWrite for Conn {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match &mut self.stream {
            Stream::Plain(tcp) => Pin::new(tcp).poll_write(cx, buf),
            Stream::Tls(tls) => Pin::new(tls.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        match &mut self.stream {
            Stream::Plain(tcp) => Pin::new(tcp).poll_write_vectored(cx, bufs),
            Stream::Tls(tls) => Pin::new(tls.as_mut()).poll_write_vectored(cx, bufs),
        }
    }

    fn is_write_vectored(&self) -> bool {
        match &self.stream {
            Stream::Plain(tcp) => tcp.is_write_vectored(),
            Stream::Tls(tls) => tls.is_write_vectored(),
        }
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match &mut self.stream {
            Stream::Plain(tcp) => Pin::new(tcp).poll_flush(cx),
            Stream::Tls(tls) => Pin::new(tls.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match &mut self.stream {
            Stream::Plain(tcp) => Pin::new(tcp).poll_shutdown(cx),
            Stream::Tls(tls) => Pin::new(tls.as_mut()).poll_shutdown(cx),
        }
    }
}

/// Which API a listener serves (what a plain-HTTP client on a TLS port is told,
/// and whether the HTTP/2 preface deadline applies).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Api {
    Rest,
    Grpc,
}

/// Accepts connections on `listener` until `stop`, and hands each one (after its
/// TLS handshake) to the returned channel. The listener is dropped, so the port
/// closes, as soon as `stop` fires.
pub(crate) fn spawn_acceptor(
    listener: TcpListener,
    tls: Option<tokio_rustls::TlsAcceptor>,
    api: Api,
    limits: &ConnLimits,
    mut stop: watch::Receiver<bool>,
) -> (mpsc::Receiver<Conn>, tokio::task::JoinHandle<()>) {
    let (sender, receiver) = mpsc::channel(64);
    let permits = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let timeout = limits.header_read_timeout;
    let task = tokio::spawn(async move {
        let stopped = async move {
            let _ = stop.wait_for(|stopped| *stopped).await;
        };
        tokio::pin!(stopped);
        loop {
            // At the cap, connections wait in the kernel's backlog until one closes.
            let permit = tokio::select! {
                permit = Arc::clone(&permits).acquire_owned() => match permit {
                    Ok(permit) => permit,
                    Err(_) => return,
                },
                () = &mut stopped => return,
            };
            let (tcp, remote) = tokio::select! {
                accepted = listener.accept() => match accepted {
                    Ok(accepted) => accepted,
                    Err(err) => {
                        // Out of file descriptors and the like: back off instead of spinning.
                        tracing::warn!("accepting a connection failed: {err}");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                },
                () = &mut stopped => return,
            };
            let _ = tcp.set_nodelay(true);
            let sender = sender.clone();
            let tls = tls.clone();
            // The handshake runs on its own task: a client that never finishes it
            // must not keep the others from being accepted.
            tokio::spawn(async move {
                let deadline = Instant::now() + timeout;
                match tokio::time::timeout_at(deadline, open(tcp, tls, api, deadline, permit)).await
                {
                    Ok(Ok(Some(conn))) => {
                        let _ = sender.send(conn).await;
                    }
                    Ok(Ok(None)) => {}
                    Ok(Err(err)) => tracing::debug!("connection from {remote}: {err}"),
                    Err(_) => tracing::debug!(
                        "connection from {remote} closed: no TLS handshake within {} ms",
                        timeout.as_millis()
                    ),
                }
            });
        }
    });
    (receiver, task)
}

async fn open(
    tcp: TcpStream,
    tls: Option<tokio_rustls::TlsAcceptor>,
    api: Api,
    deadline: Instant,
    permit: OwnedSemaphorePermit,
) -> io::Result<Option<Conn>> {
    let info = tcp.connect_info();
    let stream = match tls {
        None => Stream::Plain(tcp),
        Some(acceptor) => {
            let mut first = [0u8; 1];
            let peeked = tcp.peek(&mut first).await?;
            if peeked == 1 && first[0] != TLS_HANDSHAKE_RECORD {
                refuse_plaintext(tcp, api, info.local_addr()).await;
                return Ok(None);
            }
            Stream::Tls(Box::new(acceptor.accept(tcp).await?))
        }
    };
    let first_bytes = (api == Api::Grpc).then(|| FirstBytes {
        remaining: H2_PREFACE_LEN,
        sleep: Box::pin(tokio::time::sleep_until(deadline)),
    });
    Ok(Some(Conn {
        stream,
        info,
        first_bytes,
        _permit: permit,
    }))
}

/// A plain-HTTP request on a TLS port gets an answer it can show (as Go's
/// net/http does) instead of TLS alert bytes it cannot parse.
async fn refuse_plaintext(mut tcp: TcpStream, api: Api, local: Option<SocketAddr>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let port = local.map(|addr| addr.port()).unwrap_or_default();
    tracing::debug!("plain-text client on TLS port {port}");
    if api == Api::Grpc {
        return; // An HTTP/2 client cannot read an HTTP/1.1 answer; closing says enough.
    }
    let body = error_json(&format!(
        "this port serves HTTPS (TLS) only: use https://HOST:{port}/ instead of http://"
    ));
    let answer = format!(
        "HTTP/1.1 400 Bad Request\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    // The request is read first and the socket drained after: closing with unread
    // bytes would send a reset, and the client could lose the answer to it.
    let mut head = Vec::new();
    let mut chunk = [0u8; 2048];
    while !head.windows(4).any(|window| window == b"\r\n\r\n") && head.len() < 16 * 1024 {
        match tcp.read(&mut chunk).await {
            Ok(0) | Err(_) => return,
            Ok(n) => head.extend_from_slice(&chunk[..n]),
        }
    }
    if tcp.write_all(answer.as_bytes()).await.is_err() || tcp.shutdown().await.is_err() {
        return;
    }
    while let Ok(n) = tcp.read(&mut chunk).await {
        if n == 0 {
            break;
        }
    }
}

/// Serves REST connections from `conns` with `app` until `stop`, then lets the
/// requests in flight finish (each connection closes after its current answer).
pub(crate) async fn serve_rest(
    mut conns: mpsc::Receiver<Conn>,
    app: axum::Router,
    limits: ConnLimits,
    mut stop: watch::Receiver<bool>,
) {
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let mut builder = hyper::server::conn::http1::Builder::new();
    // hyper restarts this timer whenever it waits for a request's head, so it also
    // closes keep-alive connections that stay idle that long.
    builder
        .timer(hyper_util::rt::TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        .keep_alive(true);
    // Owned here, so that aborting this task (a shutdown past its grace period, or
    // a dropped handle) closes every connection too.
    let mut connections = tokio::task::JoinSet::new();
    loop {
        let conn = tokio::select! {
            conn = conns.recv() => match conn {
                Some(conn) => conn,
                None => break,
            },
            Some(_) = connections.join_next(), if !connections.is_empty() => continue,
            _ = stop.wait_for(|stopped| *stopped) => break,
        };
        let app = app.clone();
        let body_timeout = limits.body_read_timeout;
        let service = hyper::service::service_fn(move |request: http::Request<Incoming>| {
            handle(app.clone(), request, body_timeout)
        });
        let connection = builder.serve_connection(hyper_util::rt::TokioIo::new(conn), service);
        let connection = graceful.watch(connection);
        connections.spawn(async move {
            if let Err(err) = connection.await {
                tracing::debug!("REST connection closed: {err}");
            }
        });
    }
    drop(conns);
    graceful.shutdown().await;
}

async fn handle(
    app: axum::Router,
    request: http::Request<Incoming>,
    body_timeout: Option<Duration>,
) -> Result<axum::response::Response, std::convert::Infallible> {
    use tower::ServiceExt;
    let Some(timeout) = body_timeout else {
        return app.oneshot(request.map(axum::body::Body::new)).await;
    };
    let expired = Arc::new(AtomicBool::new(false));
    let request = request.map(|body| {
        axum::body::Body::new(DeadlineBody {
            inner: body,
            deadline: Instant::now() + timeout,
            sleep: None,
            expired: Arc::clone(&expired),
        })
    });
    let response = app.oneshot(request).await?;
    if !expired.load(Ordering::Acquire) {
        return Ok(response);
    }
    // Whatever the handler made of the cut-off body, the client is told why, and the
    // connection closes (the rest of the body would be read as the next request).
    let body = error_json(&format!(
        "the request body did not arrive within {} ms",
        timeout.as_millis()
    ));
    let mut response = axum::response::Response::new(axum::body::Body::from(body));
    *response.status_mut() = http::StatusCode::REQUEST_TIMEOUT;
    let headers = response.headers_mut();
    headers.insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/json"),
    );
    headers.insert(
        http::header::CONNECTION,
        http::HeaderValue::from_static("close"),
    );
    Ok(response)
}

#[derive(Debug, thiserror::Error)]
#[error("the request body did not arrive in time")]
struct BodyTimedOut;

/// A request body that fails once `deadline` passes while it is still being waited for.
struct DeadlineBody {
    inner: Incoming,
    deadline: Instant,
    /// Made on the first wait only: bodies that arrive at once never touch the timer.
    sleep: Option<Pin<Box<Sleep>>>,
    expired: Arc<AtomicBool>,
}

impl Body for DeadlineBody {
    type Data = Bytes;
    type Error = Box<dyn std::error::Error + Send + Sync>;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let this = &mut *self;
        if let Poll::Ready(frame) = Pin::new(&mut this.inner).poll_frame(cx) {
            return Poll::Ready(frame.map(|frame| frame.map_err(Into::into)));
        }
        let deadline = this.deadline;
        let sleep = this
            .sleep
            .get_or_insert_with(|| Box::pin(tokio::time::sleep_until(deadline)));
        ready!(sleep.as_mut().poll(cx));
        this.expired.store(true, Ordering::Release);
        Poll::Ready(Some(Err(Box::new(BodyTimedOut))))
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
