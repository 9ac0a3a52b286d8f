//! A real RFC 3161 time-stamping authority for tests: Debian's `openssl ts`, with a test CA and
//! TSA certificates made by `openssl req`/`openssl x509` in a directory of the test's own.
//!
//! Nothing here is mocked: requests are answered by `openssl ts -reply`, and tokens can be
//! cross-checked with `openssl ts -verify`. A missing `openssl` is a failure that says how to
//! install it, never a skipped test.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// What a TSA certificate made by [`Pki::tsa`] is allowed to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Usage {
    /// The critical extendedKeyUsage id-kp-timeStamping RFC 3161 requires.
    Timestamping,
    /// No extendedKeyUsage at all (`openssl ts` refuses to sign with it; see
    /// [`Tsa::resign_token`]).
    NoEku,
}

/// The key type of a certificate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyType {
    /// RSA 2048.
    Rsa,
    /// ECDSA P-256.
    P256,
}

/// Runs `openssl` with `args` in `dir`, panicking with its stderr (and how to install it) on
/// failure.
pub fn openssl(dir: &Path, args: &[&str]) -> Vec<u8> {
    openssl_stdin(dir, args, None)
}

fn openssl_stdin(dir: &Path, args: &[&str], input: Option<&[u8]>) -> Vec<u8> {
    use std::io::Write;
    let mut child = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .stdin(if input.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| {
            panic!(
                "cannot run `openssl` ({e}): the RFC 3161 tests need Debian's openssl as the \
                 time-stamping authority; install it with `apt-get install -y openssl`"
            )
        });
    if let Some(input) = input {
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(input)
            .expect("write to openssl");
    }
    let out = child.wait_with_output().expect("openssl runs");
    assert!(
        out.status.success(),
        "openssl {} failed: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// A test certificate authority: `ca.pem` and `ca.key` in its directory.
#[derive(Debug, Clone)]
pub struct Pki {
    dir: PathBuf,
    name: String,
}

impl Pki {
    /// A new self-signed CA named `name` (its files are `<name>-ca.pem`, `<name>-ca.key`) in
    /// `dir`.
    pub fn new(dir: &Path, name: &str) -> Pki {
        let pki = Pki {
            dir: dir.to_owned(),
            name: name.to_owned(),
        };
        openssl(
            dir,
            &[
                "req",
                "-x509",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-keyout",
                &format!("{name}-ca.key"),
                "-out",
                &format!("{name}-ca.pem"),
                "-days",
                "3650",
                "-subj",
                &format!("/O=sealtrail tests/CN={name} Root CA"),
                "-addext",
                "basicConstraints=critical,CA:TRUE",
                "-addext",
                "keyUsage=critical,keyCertSign,cRLSign",
            ],
        );
        pki
    }

    /// The CA certificate (PEM).
    pub fn ca_pem(&self) -> PathBuf {
        self.dir.join(format!("{}-ca.pem", self.name))
    }

    /// A TSA certificate `tsa_name` issued by this CA, with its key and an `openssl ts` config.
    pub fn tsa(&self, tsa_name: &str, usage: Usage, key: KeyType) -> Tsa {
        let d = &self.dir;
        // File names without spaces: `openssl ts -verify -untrusted` splits at them.
        let file = tsa_name.replace(' ', "-");
        let keyfile = format!("{file}.key");
        let newkey: Vec<&str> = match key {
            KeyType::Rsa => vec!["-newkey", "rsa:2048"],
            KeyType::P256 => vec!["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"],
        };
        let mut args = vec!["req"];
        args.extend(newkey);
        let subj = format!("/O=sealtrail tests/CN={tsa_name}");
        let csr = format!("{file}.csr");
        args.extend(["-nodes", "-keyout", &keyfile, "-out", &csr, "-subj", &subj]);
        openssl(d, &args);
        let ext = match usage {
            Usage::Timestamping => {
                "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\n\
                 extendedKeyUsage=critical,timeStamping\nsubjectKeyIdentifier=hash\n"
            }
            Usage::NoEku => {
                "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\n\
                 subjectKeyIdentifier=hash\n"
            }
        };
        let extfile = format!("{file}.ext");
        std::fs::write(d.join(&extfile), ext).expect("write ext");
        let crt = format!("{file}.crt");
        openssl(
            d,
            &[
                "x509",
                "-req",
                "-in",
                &csr,
                "-CA",
                &format!("{}-ca.pem", self.name),
                "-CAkey",
                &format!("{}-ca.key", self.name),
                "-CAcreateserial",
                "-out",
                &crt,
                "-days",
                "3650",
                "-extfile",
                &extfile,
            ],
        );
        let serial = format!("{file}.serial");
        std::fs::write(d.join(&serial), "01\n").expect("write serial");
        // Absolute: `--tsa-cmd` runs openssl in the caller's directory, not this one.
        let serial_path = d.join(&serial);
        let cnf = format!(
            "[ tsa ]\ndefault_tsa = tsa_config\n\n[ tsa_config ]\ndir = .\nserial = {}\n\
             crypto_device = builtin\nsigner_digest = sha256\ndefault_policy = 1.3.6.1.4.1.99999.1\n\
             digests = sha256, sha384, sha512\naccuracy = secs:1\nordering = no\ntsa_name = yes\n\
             ess_cert_id_chain = no\ness_cert_id_alg = sha256\n",
            serial_path.display()
        );
        let cnf_name = format!("{file}.cnf");
        std::fs::write(d.join(&cnf_name), cnf).expect("write ts config");
        Tsa {
            dir: d.clone(),
            cert: d.join(crt),
            key: d.join(keyfile),
            config: d.join(cnf_name),
            ca: self.ca_pem(),
        }
    }
}

/// A TSA: its certificate, key and `openssl ts` config.
#[derive(Debug, Clone)]
pub struct Tsa {
    dir: PathBuf,
    /// The TSA's certificate (PEM).
    pub cert: PathBuf,
    /// Its private key.
    pub key: PathBuf,
    /// The `openssl ts` configuration.
    pub config: PathBuf,
    /// The issuing CA's certificate (PEM).
    pub ca: PathBuf,
}

impl Tsa {
    /// The shell command that answers a DER request on stdin with a DER reply on stdout, for
    /// `sealtrail timestamp --tsa-cmd`.
    pub fn command(&self) -> String {
        format!(
            "openssl ts -reply -queryfile /dev/stdin -signer '{}' -inkey '{}' -config '{}' \
             -out /dev/stdout 2>/dev/null",
            self.cert.display(),
            self.key.display(),
            self.config.display()
        )
    }

    /// Answers a DER `TimeStampReq` with `openssl ts -reply`.
    pub fn reply(&self, request: &[u8]) -> Vec<u8> {
        let n = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        let req = format!("req-{n}-{}.tsq", std::process::id());
        let resp = format!("resp-{n}-{}.tsr", std::process::id());
        std::fs::write(self.dir.join(&req), request).expect("write request");
        openssl(
            &self.dir,
            &[
                "ts",
                "-reply",
                "-queryfile",
                &req,
                "-signer",
                &self.cert.to_string_lossy(),
                "-inkey",
                &self.key.to_string_lossy(),
                "-config",
                &self.config.to_string_lossy(),
                "-out",
                &resp,
            ],
        );
        std::fs::read(self.dir.join(resp)).expect("read reply")
    }

    /// Verifies a DER timestamp token over `data` with `openssl ts -verify` against the CA:
    /// an implementation nobody here wrote. `Err` holds what openssl printed unless it said
    /// "Verification: OK".
    pub fn openssl_verify(&self, token: &[u8], data: &[u8]) -> Result<(), String> {
        let n = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        let tok = format!("tok-{n}.der");
        let dat = format!("data-{n}.bin");
        std::fs::write(self.dir.join(&tok), token).expect("write token");
        std::fs::write(self.dir.join(&dat), data).expect("write data");
        let out = Command::new("openssl")
            .args([
                "ts",
                "-verify",
                "-token_in",
                "-in",
                &tok,
                "-data",
                &dat,
                "-CAfile",
                &self.ca.to_string_lossy(),
                "-untrusted",
                &self.cert.to_string_lossy(),
            ])
            .current_dir(&self.dir)
            .output()
            .expect("openssl runs");
        let stdout = String::from_utf8_lossy(&out.stdout);
        if stdout.contains("Verification: OK") {
            Ok(())
        } else {
            Err(format!("{stdout}{}", String::from_utf8_lossy(&out.stderr)))
        }
    }

    /// Re-signs the TSTInfo of `token` (as is) with this TSA's certificate and key through
    /// `openssl cms -sign -cades` (which adds the signingCertificateV2 attribute): a token
    /// `openssl ts -reply` would refuse to make, e.g. by a certificate without the
    /// timeStamping extended key usage.
    pub fn resign_token(&self, token: &[u8]) -> Vec<u8> {
        let tst = openssl_stdin(
            &self.dir,
            &[
                "cms",
                "-verify",
                "-noverify",
                "-inform",
                "DER",
                "-binary",
                "-out",
                "-",
            ],
            Some(token),
        );
        let n = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        let f = format!("tst-{n}.der");
        std::fs::write(self.dir.join(&f), tst).expect("write TSTInfo");
        openssl(
            &self.dir,
            &[
                "cms",
                "-sign",
                "-binary",
                "-nodetach",
                "-cades",
                "-nosmimecap",
                "-econtent_type",
                "1.2.840.113549.1.9.16.1.4",
                "-md",
                "sha256",
                "-in",
                &f,
                "-signer",
                &self.cert.to_string_lossy(),
                "-inkey",
                &self.key.to_string_lossy(),
                "-outform",
                "DER",
            ],
        )
    }
}
