//! `https-socket` / `https` values: `addr,cert,key[,ciphers]` (uWSGI 2.0 core/socket.c
//! and plugins/http/https.c split the value on `,`), and the OpenSSL-style cipher
//! string mapped onto the suites rustls implements.
//!
//! Pure: no file is read here (the master reads the PEM files before dropping
//! privileges, `wsgid_py::tls`).

use std::path::PathBuf;

use super::Origin;

/// The TLS part of an `https-socket`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsSpec {
    /// The option as written (`https-socket` or `https`), for error messages.
    pub option: String,
    /// Where it was set.
    pub origin: Origin,
    /// PEM file: the server certificate, then its chain (intermediates).
    pub cert: PathBuf,
    /// PEM file: the private key (PKCS#1 RSA, PKCS#8 RSA/EC/Ed25519, SEC1 EC).
    pub key: PathBuf,
    /// IANA names of the suites to offer (TLS 1.2 and 1.3), in preference order;
    /// empty = rustls' defaults (every suite below).
    pub suites: Vec<&'static str>,
}

/// OpenSSL name -> IANA name of every cipher suite rustls (ring provider) implements.
/// Source: OpenSSL `ciphers(1)` "TLS v1.2 cipher suites" / "TLSv1.3 cipher suites"
/// tables, rustls `CipherSuite` (0.23).
pub const SUITES: &[(&str, &str)] = &[
    ("TLS_AES_256_GCM_SHA384", "TLS13_AES_256_GCM_SHA384"),
    ("TLS_AES_128_GCM_SHA256", "TLS13_AES_128_GCM_SHA256"),
    (
        "TLS_CHACHA20_POLY1305_SHA256",
        "TLS13_CHACHA20_POLY1305_SHA256",
    ),
    (
        "ECDHE-ECDSA-AES256-GCM-SHA384",
        "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
    ),
    (
        "ECDHE-ECDSA-AES128-GCM-SHA256",
        "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
    ),
    (
        "ECDHE-ECDSA-CHACHA20-POLY1305",
        "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256",
    ),
    (
        "ECDHE-RSA-AES256-GCM-SHA384",
        "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
    ),
    (
        "ECDHE-RSA-AES128-GCM-SHA256",
        "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
    ),
    (
        "ECDHE-RSA-CHACHA20-POLY1305",
        "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
    ),
];

/// OpenSSL cipher-string keywords that select every suite rustls implements (each of
/// them is in these classes), so they change nothing (OpenSSL `ciphers(1)`).
const KEYWORDS_ALL: &[&str] = &[
    "HIGH",
    "DEFAULT",
    "ALL",
    "COMPLEMENTOFDEFAULT",
    "ECDHE",
    "EECDH",
    "kECDHE",
    "kEECDH",
    "AEAD",
    "TLSv1.2",
    "SECURE",
    "SUITEB128",
    "FIPS",
];

/// Classes rustls never offers; excluding them (`!aNULL`, `-MD5`, ...) changes nothing.
const NEVER_OFFERED: &[&str] = &[
    "aNULL",
    "eNULL",
    "NULL",
    "MD5",
    "RC4",
    "3DES",
    "DES",
    "EXP",
    "EXPORT",
    "LOW",
    "MEDIUM",
    "PSK",
    "SRP",
    "DSS",
    "aDSS",
    "CAMELLIA",
    "SEED",
    "IDEA",
    "ARIA",
    "kRSA",
    "RSA+SHA",
    "SHA1",
    "SHA",
    "CBC",
    "ADH",
    "AECDH",
    "DH",
    "EDH",
    "DHE",
    "kDHE",
    "kEDH",
    "aECDH",
    "kECDH",
    "SSLv3",
    "TLSv1",
    "TLSv1.0",
    "SHA256+RSA",
    "CCM",
    "CCM8",
    "aPSK",
    "kPSK",
    "ECDHEPSK",
    "DHEPSK",
    "RSAPSK",
    "GOST",
    "aGOST",
    "kGOST",
    "CHACHA20+DHE",
];

/// Splits `addr,cert,key[,ciphers]`; returns the address text, the TLS spec and
/// warnings. Errors are the "expected ..." part of a value error.
pub fn parse_https_value(
    option: &str,
    value: &str,
    origin: &Origin,
) -> Result<(String, TlsSpec, Vec<String>), String> {
    let parts: Vec<&str> = value.split(',').map(str::trim).collect();
    if parts.len() < 3 || parts[..3].iter().any(|p| p.is_empty()) {
        return Err(
            "addr,cert.pem,key.pem[,ciphers] (address, PEM certificate file, PEM key file)".into(),
        );
    }
    if parts.len() > 4 {
        return Err(format!(
            "addr,cert.pem,key.pem[,ciphers]: {} fields given; wsgid does not implement \
             uWSGI's client-CA field (`!ca.pem`), and cipher lists are `:`-separated",
            parts.len()
        ));
    }
    let (suites, mut warnings) = match parts.get(3).filter(|c| !c.is_empty()) {
        Some(c) => parse_ciphers(c)?,
        None => (Vec::new(), Vec::new()),
    };
    for w in &mut warnings {
        *w = format!("{origin}: option `{option}`: {w}");
    }
    Ok((
        parts[0].to_string(),
        TlsSpec {
            option: option.to_string(),
            origin: origin.clone(),
            cert: PathBuf::from(parts[1]),
            key: PathBuf::from(parts[2]),
            suites,
        },
        warnings,
    ))
}

/// Maps an OpenSSL cipher string (`a:b:!c`, as uWSGI passes to
/// `SSL_CTX_set_cipher_list`) onto rustls suites:
/// - names of suites rustls implements are kept, in the order given (TLS 1.3 suites
///   stay all enabled unless the string names some, as with OpenSSL, whose cipher list
///   does not touch TLS 1.3);
/// - keywords that cover every rustls suite (`HIGH`, `DEFAULT`, `ECDHE`, ...) and
///   exclusions of classes rustls never offers (`!aNULL`, `!MD5`, `!RC4`, ...) change
///   nothing: silently accepted;
/// - names of suites rustls does not implement (`DHE-RSA-AES256-GCM-SHA384`,
///   `AES128-SHA`, ...) and keywords wsgid does not evaluate are dropped with a warning;
/// - a string that names suites but none rustls implements is an error (nothing would
///   be left to offer).
pub fn parse_ciphers(text: &str) -> Result<(Vec<&'static str>, Vec<String>), String> {
    let mut named: Vec<&'static str> = Vec::new();
    let mut dropped: Vec<&str> = Vec::new();
    let mut unevaluated: Vec<&str> = Vec::new();
    let mut any_keyword_all = false;
    for item in text
        .split([':', ' '])
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        if let Some(rest) = item.strip_prefix(['!', '-', '+']) {
            if NEVER_OFFERED.contains(&rest) || rest.starts_with("@") {
                continue;
            }
            unevaluated.push(item);
            continue;
        }
        if item.starts_with('@') {
            // @STRENGTH, @SECLEVEL=n: ordering/level directives; rustls' suites all pass.
            continue;
        }
        if let Some((_, iana)) = SUITES
            .iter()
            .find(|(ossl, iana)| *ossl == item || *iana == item)
        {
            if !named.contains(iana) {
                named.push(iana);
            }
            continue;
        }
        if KEYWORDS_ALL.contains(&item) {
            any_keyword_all = true;
            continue;
        }
        if item.contains('-') || item.starts_with("TLS_") || item.starts_with("SSL_") {
            dropped.push(item);
        } else {
            unevaluated.push(item);
        }
    }
    let mut warnings = Vec::new();
    if !dropped.is_empty() {
        warnings.push(format!(
            "cipher suites not implemented by rustls are not offered: {}",
            dropped.join(":")
        ));
    }
    if !unevaluated.is_empty() {
        warnings.push(format!(
            "OpenSSL cipher keywords not evaluated by wsgid (ignored): {}",
            unevaluated.join(":")
        ));
    }
    if named.is_empty() && !dropped.is_empty() && !any_keyword_all && unevaluated.is_empty() {
        return Err(format!(
            "no cipher suite in `{text}` is implemented by rustls; use some of {}, or \
             HIGH (all of them)",
            SUITES.iter().map(|(o, _)| *o).collect::<Vec<_>>().join(":")
        ));
    }
    if any_keyword_all && !named.is_empty() {
        // `ECDHE-RSA-AES128-GCM-SHA256:HIGH`: the named ones first, then the rest.
        for (_, iana) in SUITES {
            if !named.contains(iana) {
                named.push(iana);
            }
        }
    }
    // TLS 1.3 suites: all of them unless the string names some (OpenSSL semantics).
    if !named.is_empty() && !named.iter().any(|n| n.starts_with("TLS13_")) {
        let tls13: Vec<&'static str> = SUITES
            .iter()
            .map(|(_, i)| *i)
            .filter(|i| i.starts_with("TLS13_"))
            .collect();
        named.splice(0..0, tls13);
    }
    Ok((named, warnings))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn o() -> Origin {
        Origin::File {
            path: "/e.ini".into(),
            line: 3,
        }
    }

    #[test]
    fn value_fields() {
        let (a, t, w) = parse_https_value("https-socket", " :8443, /c.pem ,/k.pem", &o()).unwrap();
        assert_eq!(a, ":8443");
        assert_eq!(t.cert, PathBuf::from("/c.pem"));
        assert_eq!(t.key, PathBuf::from("/k.pem"));
        assert!(t.suites.is_empty() && w.is_empty());
        assert!(parse_https_value("https", ":8443,/c.pem", &o()).is_err());
        assert!(parse_https_value("https", ":8443,,/k.pem", &o()).is_err());
        let e = parse_https_value("https", ":8443,/c,/k,HIGH,!/ca.pem", &o()).unwrap_err();
        assert!(e.contains("client-CA"), "{e}");
    }

    #[test]
    fn common_cipher_strings() {
        // uWSGI docs' and wsgi-pack's `HIGH`, and the classic `HIGH:!aNULL:!MD5`.
        for s in [
            "HIGH",
            "HIGH:!aNULL:!MD5",
            "DEFAULT:!RC4:@STRENGTH",
            "ALL:-3DES",
        ] {
            let (n, w) = parse_ciphers(s).unwrap();
            assert!(n.is_empty() && w.is_empty(), "{s}: {n:?} {w:?}");
        }
        // Mozilla "intermediate": the DHE suites are not in rustls.
        let moz = "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305:DHE-RSA-AES128-GCM-SHA256:DHE-RSA-AES256-GCM-SHA384";
        let (n, w) = parse_ciphers(moz).unwrap();
        assert_eq!(n.len(), 3 + 6);
        assert!(n[..3].iter().all(|s| s.starts_with("TLS13_")));
        assert_eq!(n[3], "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256");
        assert_eq!(w.len(), 1);
        assert!(w[0].contains("DHE-RSA-AES128-GCM-SHA256"), "{w:?}");
    }

    #[test]
    fn nothing_usable_is_an_error() {
        let e = parse_ciphers("AES128-SHA:DES-CBC3-SHA").unwrap_err();
        assert!(e.contains("rustls") && e.contains("HIGH"), "{e}");
        let (n, w) = parse_ciphers("kFOO").unwrap();
        assert!(n.is_empty() && w[0].contains("kFOO"));
    }
}
