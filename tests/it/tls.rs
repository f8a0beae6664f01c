//! TLS against a real server: certificates made with the openssl command line, a server
//! that refuses connections without TLS, verification of the server (`verify-full`), client
//! certificates (`sslcert`/`sslkey`, with `cert` authentication), and the certificate the
//! PostgreSQL documentation shows how to make, which the TLS library refuses: the error must
//! say why and what to do.

use crate::harness::*;
use migrate::cluster::{Cluster, ClusterOptions};
use std::path::{Path, PathBuf};
use std::process::Command;

/// Runs openssl with `args` in `dir`.
fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .current_dir(dir)
        .args(args)
        .output()
        .expect("running openssl");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The certificates of the tests, in a new directory the server's user can read:
/// `doc.*` self-signed as the documentation shows, `ca.*` a CA, `server.*` signed by it for
/// localhost and 127.0.0.1, `client.*` signed by it for role `certuser`.
fn certificates() -> PathBuf {
    let dir = std::env::temp_dir().join(unique_name("migrate-tls"));
    std::fs::create_dir_all(&dir).unwrap();
    openssl(
        &dir,
        &[
            "req",
            "-new",
            "-x509",
            "-days",
            "2",
            "-nodes",
            "-text",
            "-out",
            "doc.crt",
            "-keyout",
            "doc.key",
            "-subj",
            "/CN=localhost",
        ],
    );
    openssl(
        &dir,
        &[
            "req",
            "-new",
            "-x509",
            "-days",
            "2",
            "-nodes",
            "-out",
            "ca.crt",
            "-keyout",
            "ca.key",
            "-subj",
            "/CN=migrate test CA",
        ],
    );
    std::fs::write(
        dir.join("server.ext"),
        "basicConstraints=critical,CA:FALSE\nsubjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("client.ext"),
        "basicConstraints=critical,CA:FALSE\nextendedKeyUsage=clientAuth\n",
    )
    .unwrap();
    for (who, cn) in [("server", "localhost"), ("client", "certuser")] {
        openssl(
            &dir,
            &[
                "req",
                "-new",
                "-nodes",
                "-out",
                &format!("{who}.csr"),
                "-keyout",
                &format!("{who}.key"),
                "-subj",
                &format!("/CN={cn}"),
            ],
        );
        openssl(
            &dir,
            &[
                "x509",
                "-req",
                "-in",
                &format!("{who}.csr"),
                "-CA",
                "ca.crt",
                "-CAkey",
                "ca.key",
                "-CAcreateserial",
                "-days",
                "2",
                "-out",
                &format!("{who}.crt"),
                "-extfile",
                &format!("{who}.ext"),
            ],
        );
    }
    std::fs::write(
        dir.join("pg_hba.conf"),
        "hostssl all certuser 127.0.0.1/32 cert\n\
         hostssl all all 127.0.0.1/32 trust\n\
         hostnossl all all 127.0.0.1/32 reject\n",
    )
    .unwrap();
    // The server runs as the postgres user when this is root, and wants its key private.
    let owner = unsafe { libc::getpwnam(c"postgres".as_ptr()).as_ref() }
        .filter(|_| unsafe { libc::geteuid() } == 0)
        .map(|p| (p.pw_uid, p.pw_gid));
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        if let Some((uid, gid)) = owner {
            std::os::unix::fs::chown(&path, Some(uid), Some(gid)).unwrap();
        }
    }
    if let Some((uid, gid)) = owner {
        std::os::unix::fs::chown(&dir, Some(uid), Some(gid)).unwrap();
    }
    dir
}

fn tls_server(dir: &Path, cert: &str) -> Cluster {
    let file = |f: &str| dir.join(f).display().to_string();
    Cluster::start(&ClusterOptions {
        settings: vec![
            ("ssl".into(), "on".into()),
            ("ssl_cert_file".into(), file(&format!("{cert}.crt"))),
            ("ssl_key_file".into(), file(&format!("{cert}.key"))),
            ("ssl_ca_file".into(), file("ca.crt")),
            ("hba_file".into(), file("pg_hba.conf")),
        ],
        ..cluster_options()
    })
    .expect("starting a TLS server")
}

/// `migrate status` (read-only) on `url`.
fn status(url: &str) -> Output {
    run(std::process::Command::new(env!("CARGO_BIN_EXE_migrate"))
        .current_dir(crate_root())
        .env("RUST_BACKTRACE", "1")
        .env_remove("DATABASE_URL")
        .stdin(std::process::Stdio::null())
        .args(["--set", "witchcraft", "status", "--database-url", url]))
}

#[test]
fn tls_verifies_the_server_and_presents_client_certificates() {
    let dir = certificates();
    let server = tls_server(&dir, "server");
    let port = server.port();
    let path = |f: &str| dir.join(f).display().to_string();
    let verified = |user: &str, extra: &str| {
        format!(
            "postgres://{user}@localhost:{port}/postgres?sslmode=verify-full&sslrootcert={}{extra}",
            path("ca.crt")
        )
    };
    let out = status(&verified("postgres", ""));
    assert_eq!(out.code, 0, "verify-full with the CA:\n{}", out.stderr);

    // Without TLS the server refuses: the run above did use it.
    let out = status(&format!(
        "postgres://postgres@127.0.0.1:{port}/postgres?sslmode=disable"
    ));
    assert_refused(&out, 3, "no encryption");

    // A role that logs in with its certificate.
    let out = run(std::process::Command::new(client("psql"))
        .arg(verified("postgres", ""))
        .args(["-qAtc", "CREATE ROLE certuser LOGIN"]));
    assert_eq!(out.code, 0, "{}", out.stderr);
    let with_cert = verified(
        "certuser",
        &format!(
            "&sslcert={}&sslkey={}",
            path("client.crt"),
            path("client.key")
        ),
    );
    let out = status(&with_cert);
    assert_eq!(out.code, 0, "sslcert/sslkey:\n{}", out.stderr);
    assert!(
        out.stdout.contains("connected as certuser"),
        "{}",
        out.stdout
    );
    let out = status(&verified("certuser", ""));
    assert_refused(&out, 3, "connection requires a valid client certificate");

    // A missing client key is named.
    let out = status(&verified(
        "certuser",
        &format!(
            "&sslcert={}&sslkey={}",
            path("client.crt"),
            path("none.key")
        ),
    ));
    assert_refused(
        &out,
        2,
        "none.key cannot be read: No such file or directory",
    );
    drop(server);
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn the_documentations_self_signed_certificate_is_explained_not_blamed_on_the_server() {
    let dir = certificates();
    let server = tls_server(&dir, "doc");
    let port = server.port();
    let url = format!(
        "postgres://postgres@localhost:{port}/postgres?sslmode=verify-full&sslrootcert={}",
        dir.join("doc.crt").display()
    );
    let out = status(&url);
    assert_refused(
        &out,
        3,
        "the server's TLS certificate is a CA certificate (basicConstraints CA:TRUE)",
    );
    assert!(out.stderr.contains("subjectAltName"), "{}", out.stderr);
    assert!(
        !out.stderr.contains("that the server is up"),
        "{}",
        out.stderr
    );
    assert_eq!(out.stderr.lines().count(), 1, "{}", out.stderr);
    // Encryption without verification works with it.
    let out = status(&format!(
        "postgres://postgres@localhost:{port}/postgres?sslmode=require"
    ));
    assert_eq!(out.code, 0, "sslmode=require:\n{}", out.stderr);
    drop(server);
    std::fs::remove_dir_all(&dir).ok();
}
