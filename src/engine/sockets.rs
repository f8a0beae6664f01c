//! The TCP sockets of this process, read from the system: which descriptors are TCP
//! connections, and their two endpoints. The driver does not expose its sockets, so what
//! needs them (keepalives, knowing whether a connection reaches the server directly) finds
//! them among the process's descriptors.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

/// The descriptors of this process's TCP sockets (IPv4 or IPv6).
#[cfg(target_os = "linux")]
pub fn tcp() -> Vec<i32> {
    let Ok(entries) = std::fs::read_dir("/proc/self/fd") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|e| e.file_name().to_str().and_then(|n| n.parse::<i32>().ok()))
        .filter(|fd| is_tcp(*fd))
        .collect()
}

/// Elsewhere no socket is found.
#[cfg(not(target_os = "linux"))]
pub fn tcp() -> Vec<i32> {
    Vec::new()
}

/// Whether `fd` is a TCP socket (IPv4 or IPv6).
#[cfg(target_os = "linux")]
fn is_tcp(fd: i32) -> bool {
    get(fd, libc::SOL_SOCKET, libc::SO_TYPE) == Some(libc::SOCK_STREAM as u32)
        && address(fd, libc::getsockname).is_some()
}

/// The local and the remote endpoint of the TCP socket `fd`.
#[cfg(target_os = "linux")]
pub fn endpoints(fd: i32) -> Option<(SocketAddr, SocketAddr)> {
    Some((
        address(fd, libc::getsockname)?,
        address(fd, libc::getpeername)?,
    ))
}

/// Elsewhere no socket is found.
#[cfg(not(target_os = "linux"))]
pub fn endpoints(_: i32) -> Option<(SocketAddr, SocketAddr)> {
    None
}

type NameOf =
    unsafe extern "C" fn(libc::c_int, *mut libc::sockaddr, *mut libc::socklen_t) -> libc::c_int;

/// The IPv4 or IPv6 address `name` (getsockname or getpeername) gives for `fd`.
#[cfg(target_os = "linux")]
fn address(fd: i32, name: NameOf) -> Option<SocketAddr> {
    // SAFETY: the call writes at most `len` bytes into the zeroed storage it is given, and
    // the storage is read as the family it says it holds.
    unsafe {
        let mut addr: libc::sockaddr_storage = std::mem::zeroed();
        let mut len = std::mem::size_of::<libc::sockaddr_storage>() as libc::socklen_t;
        if name(fd, &mut addr as *mut _ as *mut libc::sockaddr, &mut len) != 0 {
            return None;
        }
        match i32::from(addr.ss_family) {
            libc::AF_INET => {
                let a = &*(&addr as *const _ as *const libc::sockaddr_in);
                let ip = Ipv4Addr::from(u32::from_be(a.sin_addr.s_addr));
                Some(SocketAddr::new(IpAddr::V4(ip), u16::from_be(a.sin_port)))
            }
            libc::AF_INET6 => {
                let a = &*(&addr as *const _ as *const libc::sockaddr_in6);
                let ip = Ipv6Addr::from(a.sin6_addr.s6_addr);
                Some(SocketAddr::new(IpAddr::V6(ip), u16::from_be(a.sin6_port)))
            }
            _ => None,
        }
    }
}

/// An integer socket option of `fd`.
#[cfg(target_os = "linux")]
pub fn get(fd: i32, level: i32, name: i32) -> Option<u32> {
    let mut value: libc::c_int = 0;
    let mut len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
    // SAFETY: the option is an int, and `len` says so.
    let rc = unsafe {
        libc::getsockopt(
            fd,
            level,
            name,
            &mut value as *mut _ as *mut libc::c_void,
            &mut len,
        )
    };
    (rc == 0).then_some(value as u32)
}

/// Whether some TCP socket of this process is the connection the server describes: its
/// local endpoint is the server's client (`client`), its remote one the server (`server`).
/// IPv4 addresses mapped into IPv6 count as the IPv4 address they carry.
pub fn is_own(client: SocketAddr, server: SocketAddr) -> bool {
    let canonical = |a: SocketAddr| SocketAddr::new(a.ip().to_canonical(), a.port());
    let (client, server) = (canonical(client), canonical(server));
    tcp()
        .into_iter()
        .filter_map(endpoints)
        .any(|(local, peer)| canonical(local) == client && canonical(peer) == server)
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    #[test]
    fn a_connected_socket_is_found_by_its_two_endpoints_and_no_other() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let server = listener.local_addr().unwrap();
        let stream = std::net::TcpStream::connect(server).unwrap();
        let client = stream.local_addr().unwrap();
        assert!(is_own(client, server));
        // as the server would show it on an IPv6 socket
        let mapped = |a: SocketAddr| match a.ip() {
            IpAddr::V4(v4) => SocketAddr::new(IpAddr::V6(v4.to_ipv6_mapped()), a.port()),
            IpAddr::V6(_) => a,
        };
        assert!(is_own(mapped(client), mapped(server)));
        let elsewhere = SocketAddr::new(client.ip(), client.port().wrapping_add(1).max(1));
        assert!(!is_own(elsewhere, server));
        assert!(!is_own(client, elsewhere));
        drop(stream);
        assert!(!is_own(client, server));
    }
}
