//! The private CA: creates itself, issues node certificates with the identity inside,
//! revokes them and re-signs the CRL. Everything it knows lives in one folder:
//!
//! | file | what |
//! |---|---|
//! | `ca.pem` | the CA certificate; every node trusts it |
//! | `ca.key` | the CA's private key (mode 0600); whoever has it can mint nodes |
//! | `issued.json` | every certificate issued, revocations, the CRL number ([`Registry`]) |
//! | `crl.pem` | the current revocation list, to copy to the center and replica |
//! | `nodes/<node>/` | the default place `issue` writes a node's files |
//!
//! A change is computed in memory, every file it touches is staged beside its
//! destination, and `issued.json` is committed first: a crash or a failed write
//! before that changes nothing, and after it the registry knows every certificate
//! that may have left the CA.

use std::fs::{self, DirBuilder};
use std::io::{ErrorKind, Read};
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};

use rcgen::string::Ia5String;
use rcgen::{
    BasicConstraints, CertificateParams, CertificateRevocationListParams, DistinguishedName,
    DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyIdMethod, KeyPair, KeyUsagePurpose,
    RevokedCertParams, SanType, SerialNumber,
};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, CertificateRevocationListDer};
use time::{Duration, OffsetDateTime};
use x509_parser::extensions::ParsedExtension;

use crate::dir_lock::DirLock;
use crate::error::CertError;
use crate::identity::Identity;
use crate::registry::{format_time, hex_encode, CertRecord, Registry, Status};
use crate::revoke_reason::RevokeReason;
use crate::role::Role;
use crate::staged_file::{StagedFile, PUBLIC_MODE, SECRET_MODE};

/// The CA certificate, in the CA folder.
pub const CA_CERT_FILE: &str = "ca.pem";
/// The CA private key, in the CA folder.
pub const CA_KEY_FILE: &str = "ca.key";
/// The registry of issued certificates, in the CA folder.
pub const REGISTRY_FILE: &str = "issued.json";
/// The current revocation list, in the CA folder and in each node's folder.
pub const CRL_FILE: &str = "crl.pem";
/// The folder under the CA folder where `issue` writes node files by default.
pub const NODES_DIR: &str = "nodes";

/// Default CA name.
pub const DEFAULT_CA_NAME: &str = "Jilu City CA";
/// Default CA validity: ten years.
pub const DEFAULT_CA_DAYS: u32 = 3650;
/// Default node certificate validity: 825 days, the longest browsers ever accepted
/// for a TLS certificate; long enough that a county office is not cut off by a
/// forgotten renewal, short enough that a lost key stops working eventually.
pub const DEFAULT_NODE_DAYS: u32 = 825;
/// The longest validity accepted for anything: a hundred years.
pub const MAX_DAYS: u32 = 36_500;

/// Certificates and CRLs start this long before they are made. County office clocks
/// drift (the regulation has officers measure device clock offsets for that reason);
/// without the margin a fresh certificate is "not yet valid" on a slow clock.
const CLOCK_SKEW: Duration = Duration::minutes(10);

/// A newly issued node certificate and its private key, both PEM.
pub struct Issued {
    /// The node certificate.
    pub cert_pem: String,
    /// The node's private key (PKCS#8). Secret: write it with mode 0600.
    pub key_pem: String,
}

impl std::fmt::Debug for Issued {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Issued")
            .field("cert_pem", &self.cert_pem)
            .field("key_pem", &"[secret]")
            .finish()
    }
}

/// Everything `certs issue` can ask for.
#[derive(Debug, Clone)]
pub struct IssueRequest {
    /// The node name.
    pub node: String,
    /// The node's county code.
    pub county: String,
    /// The node's role.
    pub role: Role,
    /// Validity in days (cut short at the CA's own expiry).
    pub days: u32,
    /// Revoke (as superseded) any certificate the node still holds, instead of refusing.
    pub replace: bool,
    /// Where to write `<node>.pem`, `<node>.key`, `ca.pem` and `crl.pem`; `None`
    /// writes nothing but the CA's own files.
    pub out: Option<PathBuf>,
    /// Extra DNS names (subjectAltName) for a web certificate: the names a browser checks.
    pub dns: Vec<String>,
    /// IP addresses (subjectAltName) for a web certificate.
    pub ips: Vec<std::net::IpAddr>,
}

/// What an issue did.
#[derive(Debug)]
pub struct IssueReport {
    /// The new certificate and key.
    pub issued: Issued,
    /// Its registry record.
    pub record: CertRecord,
    /// Certificates revoked because of `replace`.
    pub replaced: Vec<CertRecord>,
    /// The files written to the requested `out` folder.
    pub files: Vec<PathBuf>,
}

/// An opened CA folder.
#[derive(Debug)]
pub struct Ca {
    dir: PathBuf,
    cert_pem: String,
    name: String,
    not_after: OffsetDateTime,
    /// The CA's subject key identifier; the CRL's authority key identifier must equal it.
    key_id: Vec<u8>,
    issuer: Issuer<'static, KeyPair>,
    registry: Registry,
    crl_pem: String,
    crl_next_update: Option<OffsetDateTime>,
}

impl Ca {
    /// Opens an existing CA folder.
    pub fn open(dir: impl AsRef<Path>) -> Result<Ca, CertError> {
        let dir = dir.as_ref().to_owned();
        let cert_pem = read_required(&dir, CA_CERT_FILE)?;
        let key_pem = read_required(&dir, CA_KEY_FILE)?;
        let registry =
            Registry::load(&dir.join(REGISTRY_FILE))?.ok_or_else(|| CertError::NoCa {
                dir: dir.clone(),
                missing: REGISTRY_FILE.to_owned(),
            })?;
        let mut ca = Ca::from_parts(dir, cert_pem, &key_pem, registry)?;
        let crl_pem = read_required(&ca.dir, CRL_FILE)?;
        ca.set_crl(crl_pem)?;
        Ok(ca)
    }

    /// Creates a CA in `dir` (created if missing) named `name`, valid for `days`.
    /// Refuses, changing nothing, if the folder already holds any CA file.
    pub fn init(dir: impl AsRef<Path>, name: &str, days: u32) -> Result<Ca, CertError> {
        let dir = dir.as_ref().to_owned();
        check_ca_name(name)?;
        check_days(days)?;
        create_private_dir(&dir)?;
        let _lock = DirLock::acquire(&dir)?;
        for file in [CA_CERT_FILE, CA_KEY_FILE, REGISTRY_FILE, CRL_FILE] {
            if fs::symlink_metadata(dir.join(file)).is_ok() {
                return Err(CertError::CaExists {
                    dir,
                    found: file.to_owned(),
                });
            }
        }

        let now = now();
        let key = KeyPair::generate()?;
        let mut params = CertificateParams::default();
        params.not_before = now - CLOCK_SKEW;
        params.not_after = now + Duration::days(days.into());
        params.serial_number = Some(SerialNumber::from_slice(&random_serial(&[])?));
        let mut dn = DistinguishedName::new();
        dn.push(DnType::CommonName, name);
        params.distinguished_name = dn;
        // Path length 0: the CA signs nodes only, never another CA.
        params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let cert_pem = params.self_signed(&key)?.pem();
        let key_pem = key.serialize_pem();

        let registry = Registry::new();
        let mut ca = Ca::from_parts(dir.clone(), cert_pem, &key_pem, registry)?;
        let crl_pem = ca.sign_crl(&ca.registry, now)?;
        ca.set_crl(crl_pem)?;

        let staged = vec![
            StagedFile::write(&dir.join(CA_KEY_FILE), key_pem.as_bytes(), SECRET_MODE)?,
            StagedFile::write(&dir.join(CA_CERT_FILE), ca.cert_pem.as_bytes(), PUBLIC_MODE)?,
            StagedFile::write(&dir.join(CRL_FILE), ca.crl_pem.as_bytes(), PUBLIC_MODE)?,
            ca.registry.stage(&dir.join(REGISTRY_FILE))?,
        ];
        let mut committed = Vec::new();
        for file in staged {
            let dest = file.dest().to_owned();
            if let Err(err) = file.commit() {
                // A half-made CA would block the next `init`; take it back.
                for done in committed {
                    let _ = fs::remove_file(done);
                }
                return Err(err);
            }
            committed.push(dest);
        }
        Ok(ca)
    }

    /// Issues a certificate for a node that holds none (no `--replace`, no files
    /// written): records it and returns the certificate and key.
    pub fn issue(
        &mut self,
        node: &str,
        county: &str,
        role: Role,
        days: u32,
    ) -> Result<Issued, CertError> {
        let report = self.issue_with(&IssueRequest {
            node: node.to_owned(),
            county: county.to_owned(),
            role,
            days,
            replace: false,
            out: None,
            dns: Vec::new(),
            ips: Vec::new(),
        })?;
        Ok(report.issued)
    }

    /// Issues a certificate as `req` says. Nothing changes unless every file could
    /// be written.
    pub fn issue_with(&mut self, req: &IssueRequest) -> Result<IssueReport, CertError> {
        let id = Identity::new(&req.node, &req.county, req.role)?;
        check_days(req.days)?;
        let _lock = DirLock::acquire(&self.dir)?;
        self.reload()?;
        let now = now();

        if !req.replace {
            if let Some(live) = self
                .registry
                .unrevoked(&id.node)
                .find(|r| r.status(now) == Status::Valid)
            {
                return Err(CertError::AlreadyIssued {
                    node: id.node.clone(),
                    serial: live.serial.clone(),
                    not_after: format_time(live.not_after),
                });
            }
        }

        let mut registry = self.registry.clone();
        let replaced = if req.replace {
            revoke_in(&mut registry, &id.node, RevokeReason::Superseded, now)
        } else {
            Vec::new()
        };
        let (issued, record) = self.sign_node(&id, req, &registry, now)?;
        registry.certificates.push(record.clone());

        let crl_pem = if replaced.is_empty() {
            None
        } else {
            registry.crl_number += 1;
            Some(self.sign_crl(&registry, now)?)
        };
        let current_crl = crl_pem.as_deref().unwrap_or(&self.crl_pem);

        let mut staged = Vec::new();
        let mut files = Vec::new();
        if let Some(out) = &req.out {
            create_private_dir(out)?;
            let node_files: [(String, &str, u32); 4] = [
                (format!("{}.pem", id.node), &issued.cert_pem, PUBLIC_MODE),
                (format!("{}.key", id.node), &issued.key_pem, SECRET_MODE),
                (CA_CERT_FILE.to_owned(), &self.cert_pem, PUBLIC_MODE),
                (CRL_FILE.to_owned(), current_crl, PUBLIC_MODE),
            ];
            for (name, text, mode) in node_files {
                let path = out.join(name);
                staged.push(StagedFile::write(&path, text.as_bytes(), mode)?);
                files.push(path);
            }
        }
        if let Some(crl) = &crl_pem {
            staged.push(StagedFile::write(
                &self.dir.join(CRL_FILE),
                crl.as_bytes(),
                PUBLIC_MODE,
            )?);
        }
        // The commit point: from here the registry knows the certificate.
        registry.stage(&self.dir.join(REGISTRY_FILE))?.commit()?;
        self.registry = registry;
        for file in staged {
            file.commit()?;
        }
        if let Some(crl) = crl_pem {
            self.set_crl(crl)?;
        }
        Ok(IssueReport {
            issued,
            record,
            replaced,
            files,
        })
    }

    /// Revokes every certificate `node` holds that is not revoked yet, and writes a
    /// new CRL (next number). Returns the records it revoked.
    pub fn revoke(
        &mut self,
        node: &str,
        reason: RevokeReason,
    ) -> Result<Vec<CertRecord>, CertError> {
        crate::identity::check_name("node name", node)?;
        let _lock = DirLock::acquire(&self.dir)?;
        self.reload()?;
        let now = now();
        let mut registry = self.registry.clone();
        let revoked = revoke_in(&mut registry, node, reason, now);
        if revoked.is_empty() {
            return Err(CertError::NothingToRevoke {
                node: node.to_owned(),
            });
        }
        registry.crl_number += 1;
        self.publish(registry, now)?;
        Ok(revoked)
    }

    /// Re-signs the CRL without changing its content: a new number, a fresh
    /// `next_update` `days` ahead (if given, also the validity later revocations use).
    pub fn refresh_crl(&mut self, days: Option<u32>) -> Result<(), CertError> {
        if let Some(days) = days {
            check_days(days)?;
        }
        let _lock = DirLock::acquire(&self.dir)?;
        self.reload()?;
        let mut registry = self.registry.clone();
        if let Some(days) = days {
            registry.crl_days = days;
        }
        registry.crl_number += 1;
        self.publish(registry, now())
    }

    /// The current CRL, PEM.
    pub fn crl_pem(&self) -> &str {
        &self.crl_pem
    }

    /// Every certificate issued, oldest first.
    pub fn list(&self) -> &[CertRecord] {
        &self.registry.certificates
    }

    /// The CA certificate, PEM.
    pub fn ca_pem(&self) -> &str {
        &self.cert_pem
    }

    /// The CA folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The CA's name (its certificate's common name).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// When the CA certificate expires.
    pub fn not_after(&self) -> OffsetDateTime {
        self.not_after
    }

    /// Where the current CRL is.
    pub fn crl_path(&self) -> PathBuf {
        self.dir.join(CRL_FILE)
    }

    /// The number of the current CRL.
    pub fn crl_number(&self) -> u64 {
        self.registry.crl_number
    }

    /// Validity in days of the CRLs this CA signs.
    pub fn crl_days(&self) -> u32 {
        self.registry.crl_days
    }

    /// When the current CRL expires.
    pub fn crl_next_update(&self) -> Option<OffsetDateTime> {
        self.crl_next_update
    }

    /// The default folder `certs issue` writes a node's files to.
    pub fn node_dir(&self, node: &str) -> PathBuf {
        self.dir.join(NODES_DIR).join(node)
    }

    /// Builds a CA from its certificate, key and registry, checking they belong together.
    fn from_parts(
        dir: PathBuf,
        cert_pem: String,
        key_pem: &str,
        registry: Registry,
    ) -> Result<Ca, CertError> {
        let cert_path = dir.join(CA_CERT_FILE);
        let corrupt = |path: &Path, why: String| CertError::Corrupt {
            path: path.to_owned(),
            why,
        };
        let key = KeyPair::from_pem(key_pem)
            .map_err(|err| corrupt(&dir.join(CA_KEY_FILE), err.to_string()))?;
        let der = CertificateDer::from_pem_slice(cert_pem.as_bytes())
            .map_err(|err| corrupt(&cert_path, err.to_string()))?;
        let (_, cert) = x509_parser::parse_x509_certificate(&der)
            .map_err(|err| corrupt(&cert_path, err.to_string()))?;
        if cert.public_key().subject_public_key.data.as_ref() != key.public_key_raw() {
            return Err(corrupt(
                &dir.join(CA_KEY_FILE),
                format!("it is not the key of {}", cert_path.display()),
            ));
        }
        if !cert.is_ca() {
            return Err(corrupt(&cert_path, "it is not a CA certificate".to_owned()));
        }
        let name = cert
            .subject()
            .iter_common_name()
            .next()
            .and_then(|cn| cn.as_str().ok())
            .unwrap_or_default()
            .to_owned();
        let not_after = cert.validity().not_after.to_datetime();
        let key_id = cert
            .iter_extensions()
            .find_map(|ext| match ext.parsed_extension() {
                ParsedExtension::SubjectKeyIdentifier(id) => Some(id.0.to_vec()),
                _ => None,
            })
            .ok_or_else(|| corrupt(&cert_path, "no subject key identifier".to_owned()))?;
        let issuer = Issuer::from_ca_cert_der(&der, key)
            .map_err(|err| corrupt(&cert_path, err.to_string()))?;
        Ok(Ca {
            dir,
            cert_pem,
            name,
            not_after,
            key_id,
            issuer,
            registry,
            crl_pem: String::new(),
            crl_next_update: None,
        })
    }

    /// Re-reads what another `certs` command may have changed since `open`.
    fn reload(&mut self) -> Result<(), CertError> {
        self.registry =
            Registry::load(&self.dir.join(REGISTRY_FILE))?.ok_or_else(|| CertError::NoCa {
                dir: self.dir.clone(),
                missing: REGISTRY_FILE.to_owned(),
            })?;
        let crl_pem = read_required(&self.dir, CRL_FILE)?;
        self.set_crl(crl_pem)
    }

    fn set_crl(&mut self, crl_pem: String) -> Result<(), CertError> {
        let path = self.crl_path();
        let corrupt = |why: String| CertError::Corrupt {
            path: path.clone(),
            why,
        };
        let der = CertificateRevocationListDer::from_pem_slice(crl_pem.as_bytes())
            .map_err(|err| corrupt(err.to_string()))?;
        let (_, crl) = x509_parser::parse_x509_crl(&der).map_err(|err| corrupt(err.to_string()))?;
        self.crl_next_update = crl.next_update().map(|t| t.to_datetime());
        self.crl_pem = crl_pem;
        Ok(())
    }

    /// Signs a new CRL from `registry`, then commits the registry and the CRL.
    fn publish(&mut self, registry: Registry, now: OffsetDateTime) -> Result<(), CertError> {
        let crl_pem = self.sign_crl(&registry, now)?;
        let staged_crl = StagedFile::write(&self.crl_path(), crl_pem.as_bytes(), PUBLIC_MODE)?;
        // The registry first: if the CRL rename then fails, `certs crl` rebuilds the
        // CRL from it under a fresh number, never reusing one.
        registry.stage(&self.dir.join(REGISTRY_FILE))?.commit()?;
        self.registry = registry;
        staged_crl.commit()?;
        self.set_crl(crl_pem)
    }

    fn sign_node(
        &self,
        id: &Identity,
        req: &IssueRequest,
        registry: &Registry,
        now: OffsetDateTime,
    ) -> Result<(Issued, CertRecord), CertError> {
        let not_after = (now + Duration::days(req.days.into())).min(self.not_after);
        if not_after <= now {
            return Err(CertError::CaExpired {
                not_after: format_time(self.not_after),
            });
        }
        let not_before = now - CLOCK_SKEW;
        let taken: Vec<&str> = registry
            .certificates
            .iter()
            .map(|r| r.serial.as_str())
            .collect();
        let serial = random_serial(&taken)?;

        let key = KeyPair::generate()?;
        let mut params = CertificateParams::default();
        params.not_before = not_before;
        params.not_after = not_after;
        params.serial_number = Some(SerialNumber::from_slice(&serial));
        let mut dn = DistinguishedName::new();
        dn.push(DnType::CommonName, id.node.as_str());
        params.distinguished_name = dn;
        params.subject_alt_names = vec![
            SanType::URI(Ia5String::try_from(id.uri())?),
            // The name peers put in TLS server name indication and check against.
            SanType::DnsName(Ia5String::try_from(id.node.as_str())?),
        ];
        for name in req.dns.iter().filter(|n| **n != id.node) {
            params.subject_alt_names.push(SanType::DnsName(
                Ia5String::try_from(name.as_str()).map_err(|_| CertError::BadName {
                    what: "DNS name",
                    value: name.clone(),
                })?,
            ));
        }
        for ip in &req.ips {
            params.subject_alt_names.push(SanType::IpAddress(*ip));
        }
        params.is_ca = IsCa::ExplicitNoCa;
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        if id.role.client_auth() {
            params.insert_extended_key_usage(ExtendedKeyUsagePurpose::ClientAuth);
        }
        if id.role.server_auth() {
            params.insert_extended_key_usage(ExtendedKeyUsagePurpose::ServerAuth);
        }
        params.use_authority_key_identifier_extension = true;
        let cert = params.signed_by(&key, &self.issuer)?;

        let record = CertRecord {
            node: id.node.clone(),
            county: id.county.clone(),
            role: id.role,
            serial: hex_encode(&serial),
            not_before,
            not_after,
            revoked_at: None,
            reason: None,
        };
        let issued = Issued {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
        };
        Ok((issued, record))
    }

    fn sign_crl(&self, registry: &Registry, now: OffsetDateTime) -> Result<String, CertError> {
        let mut revoked_certs = Vec::new();
        for record in &registry.certificates {
            let (Some(revoked_at), Some(reason)) = (record.revoked_at, record.reason) else {
                continue;
            };
            let serial = record.serial_bytes().map_err(|why| CertError::Corrupt {
                path: self.dir.join(REGISTRY_FILE),
                why,
            })?;
            revoked_certs.push(RevokedCertParams {
                serial_number: SerialNumber::from_slice(&serial),
                revocation_time: revoked_at,
                reason_code: Some(reason.to_rcgen()),
                invalidity_date: None,
            });
        }
        let params = CertificateRevocationListParams {
            this_update: now - CLOCK_SKEW,
            next_update: now + Duration::days(registry.crl_days.into()),
            crl_number: SerialNumber::from_slice(&registry.crl_number.to_be_bytes()),
            issuing_distribution_point: None,
            revoked_certs,
            key_identifier_method: KeyIdMethod::PreSpecified(self.key_id.clone()),
        };
        Ok(params.signed_by(&self.issuer)?.pem()?)
    }
}

/// Marks every unrevoked certificate of `node` revoked; returns the updated records.
fn revoke_in(
    registry: &mut Registry,
    node: &str,
    reason: RevokeReason,
    now: OffsetDateTime,
) -> Vec<CertRecord> {
    let mut revoked = Vec::new();
    for record in &mut registry.certificates {
        if record.node == node && record.revoked_at.is_none() {
            record.revoked_at = Some(now);
            record.reason = Some(reason);
            revoked.push(record.clone());
        }
    }
    revoked
}

fn read_required(dir: &Path, file: &str) -> Result<String, CertError> {
    let path = dir.join(file);
    match fs::read_to_string(&path) {
        Ok(text) => Ok(text),
        Err(err) if err.kind() == ErrorKind::NotFound => Err(CertError::NoCa {
            dir: dir.to_owned(),
            missing: file.to_owned(),
        }),
        Err(source) => Err(CertError::io("reading", path, source)),
    }
}

/// Creates a folder (and its parents) readable by its owner only, since it will
/// hold private keys. Existing folders keep their permissions.
fn create_private_dir(dir: &Path) -> Result<(), CertError> {
    DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|source| CertError::io("creating", dir, source))
}

fn check_days(days: u32) -> Result<(), CertError> {
    if (1..=MAX_DAYS).contains(&days) {
        Ok(())
    } else {
        Err(CertError::BadDays { days })
    }
}

fn check_ca_name(name: &str) -> Result<(), CertError> {
    let len = name.chars().count();
    if (1..=64).contains(&len) && !name.chars().any(char::is_control) && name.trim() == name {
        Ok(())
    } else {
        Err(CertError::BadCaName {
            value: name.to_owned(),
        })
    }
}

/// The current time, whole seconds (certificates carry no fractions, and the
/// registry should say exactly what the certificate says).
fn now() -> OffsetDateTime {
    let now = OffsetDateTime::now_utc();
    now - Duration::nanoseconds(now.nanosecond().into())
}

/// A random 16-byte serial number, positive and with a non-zero first byte so its
/// DER encoding keeps all 16 bytes (and its hex matches what `openssl` prints).
fn random_serial(taken: &[&str]) -> Result<[u8; 16], CertError> {
    loop {
        let mut serial = [0u8; 16];
        // No RNG crate in the workspace; the kernel's is the one ring uses anyway.
        fs::File::open("/dev/urandom")
            .and_then(|mut f| f.read_exact(&mut serial))
            .map_err(|source| CertError::io("reading", "/dev/urandom", source))?;
        serial[0] &= 0x7f;
        if serial[0] == 0 {
            serial[0] = 1;
        }
        let hex = hex_encode(&serial);
        if !taken.contains(&hex.as_str()) {
            return Ok(serial);
        }
    }
}
