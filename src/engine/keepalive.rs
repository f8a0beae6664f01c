//! TCP keepalives on every connection to the server, as libpq sets them: the driver opens
//! its sockets without them, so a server that vanished without closing the connection (a
//! host powered off, a dropped NAT entry) would leave a waiting read unanswered forever.
//! After each connect, every TCP socket of this process that has no keepalive yet gets one
//! (all of them are connections to PostgreSQL servers).
//!
//! The URL's `keepalives` (0 turns them off), `keepalives_idle`, `keepalives_interval`,
//! `keepalives_count` and `tcp_user_timeout` are honoured; without them a dead peer is
//! noticed after about two minutes (60 s idle, then 6 probes 10 s apart).

pub use crate::run::{Keepalive, COUNT, IDLE, INTERVAL};

/// Turns keepalives on for every TCP socket of this process that has none.
#[cfg(target_os = "linux")]
pub fn apply(k: Keepalive) {
    use super::sockets::{get, tcp};
    if !k.on {
        return;
    }
    for fd in tcp() {
        if get(fd, libc::SOL_SOCKET, libc::SO_KEEPALIVE) == Some(0) {
            set(fd, libc::IPPROTO_TCP, libc::TCP_KEEPIDLE, k.idle);
            set(fd, libc::IPPROTO_TCP, libc::TCP_KEEPINTVL, k.interval);
            set(fd, libc::IPPROTO_TCP, libc::TCP_KEEPCNT, k.count);
            if k.user_timeout > 0 {
                set(
                    fd,
                    libc::IPPROTO_TCP,
                    libc::TCP_USER_TIMEOUT,
                    k.user_timeout,
                );
            }
            set(fd, libc::SOL_SOCKET, libc::SO_KEEPALIVE, 1);
        }
    }
}

/// Elsewhere the driver's sockets keep the system's defaults.
#[cfg(not(target_os = "linux"))]
pub fn apply(_: Keepalive) {}

#[cfg(target_os = "linux")]
fn set(fd: i32, level: i32, name: i32, value: u32) {
    let value = value.min(i32::MAX as u32) as libc::c_int;
    // SAFETY: the option is an int, and the length says so. A failure (the descriptor was
    // closed meanwhile) leaves that socket as it was.
    unsafe {
        libc::setsockopt(
            fd,
            level,
            name,
            &value as *const _ as *const libc::c_void,
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_url_sets_or_turns_off_the_keepalives() {
        let k = Keepalive::of_url("postgres://h/db");
        assert_eq!(
            (k.on, k.idle, k.interval, k.count),
            (true, IDLE, INTERVAL, COUNT)
        );
        let k = Keepalive::of_url(
            "postgres://h/db?keepalives_idle=7&keepalives_interval=2&keepalives_count=3&tcp_user_timeout=900",
        );
        assert_eq!(
            (k.on, k.idle, k.interval, k.count, k.user_timeout),
            (true, 7, 2, 3, 900)
        );
        assert!(!Keepalive::of_url("postgres://h/db?keepalives=0").on);
    }
}
