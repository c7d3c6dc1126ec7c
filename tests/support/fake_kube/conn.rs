//! A TCP listener whose connections a handler can drop mid-request, to fake a connection
//! lost before or after the server committed a change.

use axum::serve::{IncomingStream, Listener};
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};

/// Accepts plain TCP connections, or TLS ones when given an acceptor.
pub struct KillableListener {
    pub tcp: TcpListener,
    pub tls: Option<tokio_rustls::TlsAcceptor>,
}

enum Inner {
    Plain(TcpStream),
    Tls(Box<tokio_rustls::server::TlsStream<TcpStream>>),
}

pub struct KillableStream {
    inner: Inner,
    killed: Arc<AtomicBool>,
}

/// Delegates a poll to whichever stream it is.
macro_rules! delegate {
    ($self:ident, $s:ident => $call:expr) => {
        match &mut $self.inner {
            Inner::Plain($s) => {
                let $s = Pin::new($s);
                $call
            }
            Inner::Tls($s) => {
                let $s = Pin::new(&mut **$s);
                $call
            }
        }
    };
}

/// The connection a request came on; `kill` makes every later read and write on it fail,
/// so the response is never sent and the client sees the connection reset.
#[derive(Clone)]
pub struct Peer {
    killed: Arc<AtomicBool>,
}

impl Peer {
    pub fn kill(&self) {
        self.killed.store(true, Ordering::SeqCst);
    }
}

impl Listener for KillableListener {
    type Io = KillableStream;
    type Addr = std::net::SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            let Ok((tcp, addr)) = self.tcp.accept().await else {
                continue;
            };
            let _ = tcp.set_nodelay(true);
            let inner = match &self.tls {
                None => Inner::Plain(tcp),
                // A client that refuses the certificate fails its handshake: next one.
                Some(acceptor) => match acceptor.accept(tcp).await {
                    Ok(tls) => Inner::Tls(Box::new(tls)),
                    Err(_) => continue,
                },
            };
            return (
                KillableStream {
                    inner,
                    killed: Arc::new(AtomicBool::new(false)),
                },
                addr,
            );
        }
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        self.tcp.local_addr()
    }
}

impl axum::extract::connect_info::Connected<IncomingStream<'_, KillableListener>> for Peer {
    fn connect_info(stream: IncomingStream<'_, KillableListener>) -> Self {
        Peer {
            killed: stream.io().killed.clone(),
        }
    }
}

fn reset() -> io::Error {
    io::Error::new(
        io::ErrorKind::ConnectionReset,
        "connection dropped by fault injection",
    )
}

impl AsyncRead for KillableStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if self.killed.load(Ordering::SeqCst) {
            return Poll::Ready(Err(reset()));
        }
        delegate!(self, s => s.poll_read(cx, buf))
    }
}

impl AsyncWrite for KillableStream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        if self.killed.load(Ordering::SeqCst) {
            // Shut the socket so the client sees the connection closed without a response.
            let _ = delegate!(self, s => s.poll_shutdown(cx));
            return Poll::Ready(Err(reset()));
        }
        delegate!(self, s => s.poll_write(cx, buf))
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        delegate!(self, s => s.poll_flush(cx))
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        delegate!(self, s => s.poll_shutdown(cx))
    }
}

/// A CA and a server certificate for 127.0.0.1 and localhost signed by it: the acceptor,
/// and the CA's PEM for the kubeconfig's `certificate-authority-data`.
pub fn tls_acceptor() -> (tokio_rustls::TlsAcceptor, String) {
    use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair};
    let ca_key = KeyPair::generate().unwrap();
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name
        .push(DnType::CommonName, "fake-kube-apiserver CA");
    let ca_cert = ca.self_signed(&ca_key).unwrap();
    let key = KeyPair::generate().unwrap();
    let leaf =
        CertificateParams::new(vec!["127.0.0.1".to_string(), "localhost".to_string()]).unwrap();
    let cert = leaf.signed_by(&key, &ca_cert, &ca_key).unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(
            vec![cert.der().clone()],
            rustls::pki_types::PrivateKeyDer::Pkcs8(key.serialize_der().into()),
        )
        .unwrap();
    (
        tokio_rustls::TlsAcceptor::from(Arc::new(config)),
        ca_cert.pem(),
    )
}
