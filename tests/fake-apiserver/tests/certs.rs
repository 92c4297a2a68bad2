//! The checked-in TLS fixtures must outlive the project's tests: fail two years
//! before any of them expires, so there is time to run certs/regen.sh.

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::CertificateDer;
use time::{Date, Month, OffsetDateTime, PrimitiveDateTime, Time};

/// One DER TLV: (tag, contents, rest).
fn tlv(b: &[u8]) -> (u8, &[u8], &[u8]) {
    let (tag, first) = (b[0], b[1] as usize);
    let (len, hdr) = if first < 0x80 {
        (first, 2)
    } else {
        let n = first & 0x7f;
        (b[2..2 + n].iter().fold(0usize, |a, x| a << 8 | *x as usize), 2 + n)
    };
    (tag, &b[hdr..hdr + len], &b[hdr + len..])
}

/// notAfter of a certificate, from its DER.
fn not_after(der: &[u8]) -> OffsetDateTime {
    let (_, cert, _) = tlv(der);
    let (_, tbs, _) = tlv(cert);
    let mut rest = tbs;
    if rest[0] == 0xa0 {
        rest = tlv(rest).2; // explicit version
    }
    for _ in 0..3 {
        rest = tlv(rest).2; // serial, signature algorithm, issuer
    }
    let (_, validity, _) = tlv(rest);
    let rest = tlv(validity).2; // notBefore
    let (tag, t, _) = tlv(rest);
    let s = std::str::from_utf8(t).unwrap();
    let (year, s) = match tag {
        0x17 => {
            let y: i32 = s[..2].parse().unwrap();
            (if y < 50 { 2000 + y } else { 1900 + y }, &s[2..])
        }
        0x18 => (s[..4].parse().unwrap(), &s[4..]),
        other => panic!("unexpected time tag {other:#x}"),
    };
    let n = |i: usize| s[i..i + 2].parse::<u8>().unwrap();
    let date = Date::from_calendar_date(year, Month::try_from(n(0)).unwrap(), n(2)).unwrap();
    PrimitiveDateTime::new(date, Time::from_hms(n(4), n(6), n(8)).unwrap()).assume_utc()
}

#[test]
fn fixtures_do_not_expire_within_two_years() {
    let fixtures = [
        ("ca.crt", fakeapi::tls::TEST_CA.ca_pem),
        ("server.crt", fakeapi::tls::TEST_CA.cert_pem),
        ("other-ca.crt", fakeapi::tls::OTHER_CA.ca_pem),
        ("other-server.crt", fakeapi::tls::OTHER_CA.cert_pem),
    ];
    let horizon = OffsetDateTime::now_utc() + time::Duration::days(2 * 365);
    for (name, pem) in fixtures {
        for der in CertificateDer::pem_slice_iter(pem.as_bytes()) {
            let end = not_after(&der.unwrap());
            assert!(end > horizon, "certs/{name} expires {end}: run tests/fake-apiserver/certs/regen.sh");
            assert!(end.year() >= 2050, "certs/{name}: notAfter {end} decoded wrongly?");
        }
    }
}
