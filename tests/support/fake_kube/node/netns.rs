//! Connections made from inside a network namespace, as the kubelet makes them from the
//! node's (probes) or from the pod's (port-forward to the pod's loopback): a thread of its
//! own enters the namespace of a process (`setns`), connects, and hands the socket back;
//! a socket stays in the namespace it was made in.

use std::net::SocketAddr;
use std::os::fd::AsRawFd;
use std::time::Duration;
use tokio::net::TcpStream;

/// Connects to `addr` from the network namespace of process `pid`.
pub async fn connect(pid: u32, addr: SocketAddr, limit: Duration) -> std::io::Result<TcpStream> {
    let (tx, rx) = tokio::sync::oneshot::channel();
    std::thread::spawn(move || {
        let _ = tx.send(connect_blocking(pid, addr, limit));
    });
    let stream = rx
        .await
        .map_err(|_| std::io::Error::other("the connecting thread ended"))??;
    TcpStream::from_std(stream)
}

fn connect_blocking(
    pid: u32,
    addr: SocketAddr,
    limit: Duration,
) -> std::io::Result<std::net::TcpStream> {
    let ns = std::fs::File::open(format!("/proc/{pid}/ns/net"))?;
    // SAFETY: `setns` on a file descriptor we own; it changes only this thread's
    // namespace, and this thread ends right after connecting.
    let rc = unsafe { libc::setns(ns.as_raw_fd(), libc::CLONE_NEWNET) };
    if rc != 0 {
        return Err(std::io::Error::last_os_error());
    }
    let stream = std::net::TcpStream::connect_timeout(&addr, limit)?;
    stream.set_nonblocking(true)?;
    Ok(stream)
}
