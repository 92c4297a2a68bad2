//! The `fake-apiserver` binary: seeds objects, writes client files, serves
//! until SIGTERM.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

#[test]
fn binary_serves_seeded_objects_until_sigterm() {
    let dir = std::env::temp_dir().join(format!("fakeapi-bin-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let seed = dir.join("seed.json");
    std::fs::write(&seed, r#"[{"apiVersion":"v1","kind":"Node","metadata":{"name":"seeded"}}]"#).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_fake-apiserver"))
        .args(["--dir", dir.to_str().unwrap(), "--seed", seed.to_str().unwrap(), "--seconds", "30"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut url = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut url).unwrap();
    let port: u16 = url.trim().rsplit(':').next().unwrap().parse().unwrap();
    let token = std::fs::read_to_string(dir.join("serviceaccount/token")).unwrap();
    let ca = std::fs::read_to_string(dir.join("serviceaccount/ca.crt")).unwrap();
    assert!(std::fs::read_to_string(dir.join("kubeconfig")).unwrap().contains(url.trim()));

    // talk to it as a pod would, from the service-account files alone
    let cfg = common::tls_config(&ca);
    let sock = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    let conn = rustls::ClientConnection::new(cfg, "127.0.0.1".try_into().unwrap()).unwrap();
    let mut s = rustls::StreamOwned::new(conn, sock);
    use std::io::{Read, Write};
    write!(
        s,
        "GET /api/v1/nodes/seeded HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut buf = vec![0u8; 4096];
    let n = s.read(&mut buf).unwrap();
    let head = String::from_utf8_lossy(&buf[..n]).to_string();
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");

    // SAFETY: signalling our own child by its pid.
    unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGTERM) };
    let end = Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(st) = child.try_wait().unwrap() {
            break st;
        }
        assert!(Instant::now() < end, "fake-apiserver did not stop on SIGTERM");
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(status.success());
    let bad = Command::new(env!("CARGO_BIN_EXE_fake-apiserver")).arg("--bogus").output().unwrap();
    assert_eq!(bad.status.code(), Some(2));
    std::fs::remove_dir_all(dir).unwrap();
}
