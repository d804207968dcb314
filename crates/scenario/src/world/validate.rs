//! From world file text to a [`World`]: parse (with line and column on every error), then check
//! meaning section by section. The first problem found is returned, naming the dotted key of the
//! value and where it is written. The Dataverse sections live in `validate/environment.rs`,
//! custom tables in `validate/custom_tables.rs`.
//! `[[faults]]` values come from `fake_core::FaultRule`'s own serde; their positions from a
//! second read of the file ([`FaultSpans`]).

use std::collections::{BTreeMap, HashMap};
use std::ops::Range;
use std::path::{Path, PathBuf};

use fake_core::FaultRule;
use fake_entra::{
    AssertionReplayPolicy, CATALOGUE, CatalogueEntry, CommonTenantPolicy, ForcedError,
    ForcedErrorKind, RateLimit, ResourcePolicy, TrailerSeparator,
};
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use toml::Spanned;
use uuid::Uuid;

use super::file::{
    AppFile, AssertionReplayFile, CertificateFile, CommonTenantFile, EntraFile, Entries,
    FaultRuleSpans, FaultSpans, ForcedErrorFile, PermissionFile, PermissionKindFile, RateLimitFile,
    ResourcesFile, SecretFile, ServicePrincipalFile, SigningKeyFile, TenantFile,
    TrailerSeparatorFile, VersionProbe, WorldFile,
};
use super::{
    App, CLOUD, Certificate, EntraKnobs, Permission, Secret, SecretValue, ServicePrincipal,
    SigningKeyOrigin, SigningKeyPem, SourceText, Tenant, World,
};
use crate::{Error, FileKind, Location, Reason, TomlError};

mod custom_tables;
mod environment;

/// The most client assertions `assertion_replay = { reject = … }` may remember: a million
/// `jti`s is a few hundred MB at most, and no test sends that many assertions.
const MAX_ASSERTION_REPLAY_CAPACITY: i64 = 1_000_000;

/// The region scope of tenants whose file does not say.
const DEFAULT_REGION_SCOPE: &str = "NA";

/// The longest token lifetime `[entra]` accepts: Entra's configurable access token lifetime
/// tops out at one day, and nothing longer is useful in a test.
const MAX_TOKEN_LIFETIME_SECONDS: i64 = 86_400;

/// The service names fault rules can match (`fake_core::Service::name` of each fake).
const FAULT_SERVICES: &[&str] = &["entra", "dataverse"];

/// Tenant segments that name no tenant; clients send them, so forced errors may match them.
const TENANT_ALIASES: &[&str] = &["common", "organizations", "consumers"];

pub(crate) fn world(text: &str, path: &Path) -> Result<World, Error> {
    world_all(text, path).map_err(|mut errors| errors.remove(0))
}

/// Like [`world`], with every error found instead of the first: each tenant, app, environment,
/// `[[faults]]` rule and top-level section is checked even when one before it failed (an
/// entry stops at its own first error). References to an entry that failed are not reported
/// again. Never `Err` with an empty list; the errors are in file-section order.
pub(crate) fn world_all(text: &str, path: &Path) -> Result<World, Vec<Error>> {
    let checker = Checker {
        file: FileKind::World,
        text,
        path,
        folder: path.parent().unwrap_or(Path::new("")).to_owned(),
    };
    let probe: VersionProbe = checker.parse().map_err(|error| vec![error])?;
    if let Some(version) = probe.version
        && version.get_ref().as_integer() != Some(1)
    {
        return Err(vec![checker.invalid(
            version.span(),
            "version",
            Reason::Version {
                found: version.get_ref().to_string(),
            },
        )]);
    }
    let file: WorldFile = checker.parse().map_err(|error| vec![error])?;
    let mut errors = Vec::new();
    let tenants = checker.tenants(&file.tenants, &mut errors);
    let apps = checker.apps(&file.apps, &tenants, &mut errors);
    let environments = checker.environments(&file.environments, &tenants, &apps, &mut errors);
    let signing_key = match &file.signing_key {
        Some(signing_key) => keep(&mut errors, checker.signing_key(signing_key)),
        None => Some(SigningKeyPem::builtin()),
    };
    let entra = match &file.entra {
        Some(entra) => keep(&mut errors, checker.entra(entra)),
        None => Some(EntraKnobs::default()),
    };
    let dataverse = match &file.dataverse {
        Some(dataverse) => keep(&mut errors, checker.dataverse(dataverse)),
        None => Some(fake_dataverse::Switches::default()),
    };
    errors.extend(checker.fault_errors());
    let broken_tenants = broken(&file.tenants, tenants.iter().map(|tenant| &tenant.key));
    let broken_apps = broken(&file.apps, apps.iter().map(|app| &app.key));
    errors.retain(|error| match error {
        Error::Invalid { reason, .. } => match reason.as_ref() {
            Reason::UnknownTenant { name, .. } => !broken_tenants.contains(name),
            Reason::UnknownApp { name, .. } => !broken_apps.contains(name),
            _ => true,
        },
        _ => true,
    });
    // A broken entry is still a name the file defines: list it (and suggest it) too.
    for error in &mut errors {
        if let Error::Invalid { reason, .. } = error {
            match reason.as_mut() {
                Reason::UnknownTenant { known, .. } => known.extend(broken_tenants.iter().cloned()),
                Reason::UnknownApp { known, .. } => known.extend(broken_apps.iter().cloned()),
                _ => {}
            }
        }
    }
    match (signing_key, entra, dataverse) {
        (Some(signing_key), Some(entra), Some(dataverse)) if errors.is_empty() => Ok(World {
            path: path.to_owned(),
            tenants,
            apps,
            environments,
            signing_key,
            entra,
            dataverse,
            faults: file.faults,
            source: SourceText(text.into()),
        }),
        _ => Err(errors),
    }
}

/// `result`'s value, or `None` with its error added to `errors`.
fn keep<T>(errors: &mut Vec<Error>, result: Result<T, Error>) -> Option<T> {
    result.map_err(|error| errors.push(error)).ok()
}

/// The keys of `entries` that did not make it into the checked ones: entries with an error.
fn broken<'a, T>(
    entries: &Entries<T>,
    checked: impl Iterator<Item = &'a String>,
) -> std::collections::BTreeSet<String> {
    let checked: std::collections::BTreeSet<&String> = checked.collect();
    entries
        .0
        .iter()
        .map(|(key, _)| key.get_ref())
        .filter(|key| !checked.contains(key))
        .cloned()
        .collect()
}

/// Checks `[[faults]]` rules that another kind of file (a scenario) carries in the world's
/// shape: `rules` as parsed from `text`, errors positioned in `text` and naming `path`.
pub(crate) fn fault_rules(
    text: &str,
    path: &Path,
    file: FileKind,
    rules: Vec<FaultRule>,
) -> Result<Vec<FaultRule>, Error> {
    let checker = Checker {
        file,
        text,
        path,
        folder: path.parent().unwrap_or(Path::new("")).to_owned(),
    };
    checker.faults(rules)
}

/// Checks one positioned fault rule written at `key` of `text` (a scenario's `fault` step),
/// as `[[faults]]` entries are checked.
pub(crate) fn fault_rule(
    text: &str,
    path: &Path,
    file: FileKind,
    rule: &FaultRuleSpans,
    key: &str,
) -> Result<(), Error> {
    let checker = Checker {
        file,
        text,
        path,
        folder: path.parent().unwrap_or(Path::new("")).to_owned(),
    };
    checker.fault(rule, key)
}

/// The file being checked, for positions and relative paths.
/// What is wrong with a certificate's PEM, before it is told where the PEM came from.
enum PemProblem {
    NoCertificate,
    Invalid(rustls_pki_types::pem::Error),
}

struct Checker<'a> {
    file: FileKind,
    text: &'a str,
    path: &'a Path,
    folder: PathBuf,
}

impl Checker<'_> {
    fn parse<T: serde::de::DeserializeOwned>(&self) -> Result<T, Error> {
        toml::from_str(self.text).map_err(|error| Error::Parse {
            file: self.file,
            path: self.path.to_owned(),
            location: error.span().map(|span| Location::of(self.text, span.start)),
            source: TomlError(Box::new(error)),
        })
    }

    fn invalid(&self, span: Range<usize>, key: impl Into<String>, reason: Reason) -> Error {
        Error::Invalid {
            file: self.file,
            path: self.path.to_owned(),
            location: Location::of(self.text, span.start),
            key: key.into(),
            reason: Box::new(reason),
        }
    }

    fn tenants(&self, tenants: &Entries<TenantFile>, errors: &mut Vec<Error>) -> Vec<Tenant> {
        let mut ids: HashMap<Uuid, String> = HashMap::new();
        let mut domains: HashMap<String, String> = HashMap::new();
        let mut checked = Vec::new();
        for (key, tenant) in &tenants.0 {
            let entry = (|| -> Result<Tenant, Error> {
                self.table_key(key, "tenants")?;
                let prefix = format!("tenants.{}", key.get_ref());
                let id = self.guid(&tenant.id, format!("{prefix}.id"))?;
                self.unique(
                    &mut ids,
                    id,
                    "tenant id",
                    &tenant.id,
                    format!("{prefix}.id"),
                )?;
                for (index, domain) in tenant.domains.iter().enumerate() {
                    let domain_key = format!("{prefix}.domains[{index}]");
                    self.domain(domain, &domain_key)?;
                    let lowered = domain.get_ref().to_ascii_lowercase();
                    self.unique(&mut domains, lowered, "domain", domain, domain_key)?;
                }
                let display_name =
                    self.non_empty(&tenant.display_name, format!("{prefix}.display_name"))?;
                let dynamics_enabled = match &tenant.dynamics_enabled {
                    Some(enabled) if !enabled.get_ref() && !tenant.dynamics => {
                        return Err(self.invalid(
                            enabled.span(),
                            format!("{prefix}.dynamics_enabled"),
                            Reason::DynamicsDisabledWithoutPrincipal,
                        ));
                    }
                    Some(enabled) => *enabled.get_ref(),
                    None => true,
                };
                let region_scope = match &tenant.region_scope {
                    Some(scope) => self.non_empty(scope, format!("{prefix}.region_scope"))?,
                    None => DEFAULT_REGION_SCOPE.to_owned(),
                };
                Ok(Tenant {
                    key: key.get_ref().clone(),
                    id,
                    domains: tenant
                        .domains
                        .iter()
                        .map(|domain| domain.get_ref().clone())
                        .collect(),
                    display_name,
                    dynamics: tenant.dynamics,
                    dynamics_enabled,
                    region_scope,
                })
            })();
            match entry {
                Ok(tenant) => checked.push(tenant),
                Err(error) => errors.push(error),
            }
        }
        checked
    }

    fn apps(
        &self,
        apps: &Entries<AppFile>,
        tenants: &[Tenant],
        errors: &mut Vec<Error>,
    ) -> Vec<App> {
        let mut client_ids: HashMap<Uuid, String> = HashMap::new();
        let mut checked = Vec::new();
        for (key, app) in &apps.0 {
            let entry = (|| -> Result<App, Error> {
                self.table_key(key, "apps")?;
                let prefix = format!("apps.{}", key.get_ref());
                let client_id = self.guid(&app.client_id, format!("{prefix}.client_id"))?;
                self.unique(
                    &mut client_ids,
                    client_id,
                    "client id",
                    &app.client_id,
                    format!("{prefix}.client_id"),
                )?;
                let display_name =
                    self.non_empty(&app.display_name, format!("{prefix}.display_name"))?;
                let home =
                    self.tenant_ref(&app.home_tenant, format!("{prefix}.home_tenant"), tenants)?;
                let service_principals = self.service_principals(app, &prefix, home, tenants)?;
                let secrets = self.secrets(&app.secrets, &prefix)?;
                let certificates = app
                    .certificates
                    .iter()
                    .enumerate()
                    .map(|(index, certificate)| {
                        self.certificate(certificate, format!("{prefix}.certificates[{index}]"))
                    })
                    .collect::<Result<Vec<_>, Error>>()?;
                let permissions = app
                    .permissions
                    .iter()
                    .enumerate()
                    .map(|(index, permission)| {
                        self.permission(permission, format!("{prefix}.permissions[{index}]"))
                    })
                    .collect::<Result<Vec<_>, Error>>()?;
                Ok(App {
                    key: key.get_ref().clone(),
                    client_id,
                    display_name,
                    home_tenant: home.key.clone(),
                    home_tenant_id: home.id,
                    multi_tenant: app.multi_tenant,
                    enabled: app.enabled,
                    service_principals,
                    secrets,
                    certificates,
                    permissions,
                })
            })();
            match entry {
                Ok(app) => checked.push(app),
                Err(error) => errors.push(error),
            }
        }
        checked
    }

    fn service_principals(
        &self,
        app: &AppFile,
        prefix: &str,
        home: &Tenant,
        tenants: &[Tenant],
    ) -> Result<Vec<ServicePrincipal>, Error> {
        let mut seen: HashMap<String, String> = HashMap::new();
        let mut checked = Vec::new();
        for (index, principal) in app.service_principals.iter().enumerate() {
            let ServicePrincipalFile {
                tenant,
                object_id,
                enabled,
                removed,
            } = principal;
            let principal_key = format!("{prefix}.service_principals[{index}]");
            let tenant_key = format!("{principal_key}.tenant");
            let resolved = self.tenant_ref(tenant, tenant_key.clone(), tenants)?;
            if !app.multi_tenant && resolved.key != home.key {
                return Err(self.invalid(
                    tenant.span(),
                    tenant_key,
                    Reason::SingleTenant {
                        home: home.key.clone(),
                    },
                ));
            }
            if removed.as_ref().is_some_and(|removed| *removed.get_ref())
                && resolved.key == home.key
            {
                return Err(self.invalid(
                    removed.as_ref().map_or(tenant.span(), Spanned::span),
                    format!("{principal_key}.removed"),
                    Reason::RemovedHomePrincipal {
                        home: home.key.clone(),
                    },
                ));
            }
            self.unique(
                &mut seen,
                resolved.key.clone(),
                "service principal tenant",
                tenant,
                tenant_key,
            )?;
            let object_id = object_id
                .as_ref()
                .map(|object_id| self.guid(object_id, format!("{principal_key}.object_id")))
                .transpose()?;
            checked.push(ServicePrincipal {
                tenant: resolved.key.clone(),
                tenant_id: resolved.id,
                object_id,
                enabled: *enabled,
                removed: removed.as_ref().is_some_and(|removed| *removed.get_ref()),
            });
        }
        Ok(checked)
    }

    fn secrets(&self, secrets: &[SecretFile], prefix: &str) -> Result<Vec<Secret>, Error> {
        let mut names: HashMap<String, String> = HashMap::new();
        let mut checked = Vec::new();
        for (index, secret) in secrets.iter().enumerate() {
            let secret_key = format!("{prefix}.secrets[{index}]");
            let name = self.non_empty(&secret.name, format!("{secret_key}.name"))?;
            self.unique(
                &mut names,
                name.clone(),
                "secret name",
                &secret.name,
                format!("{secret_key}.name"),
            )?;
            let id = secret
                .id
                .as_ref()
                .map(|id| self.guid(id, format!("{secret_key}.id")))
                .transpose()?;
            let value = self.non_empty(&secret.value, format!("{secret_key}.value"))?;
            let expires = self.timestamp(&secret.expires, format!("{secret_key}.expires"))?;
            checked.push(Secret {
                name,
                id,
                value: SecretValue::new(value),
                expires,
            });
        }
        Ok(checked)
    }

    fn certificate(
        &self,
        certificate: &CertificateFile,
        key: String,
    ) -> Result<Certificate, Error> {
        let name = self.non_empty(&certificate.name, format!("{key}.name"))?;
        let (file, der) = match (&certificate.file, &certificate.pem) {
            (Some(file), None) => {
                let file_key = format!("{key}.file");
                let (path, bytes) = self.read(file, &file_key)?;
                let der =
                    self.certificate_der(&bytes, file, file_key, |problem| match problem {
                        PemProblem::NoCertificate => Reason::NoCertificate { file: path.clone() },
                        PemProblem::Invalid(source) => Reason::Pem {
                            file: path.clone(),
                            source,
                        },
                    })?;
                (Some(path), der)
            }
            (None, Some(pem)) => {
                let der = self.certificate_der(
                    pem.get_ref().as_bytes(),
                    pem,
                    format!("{key}.pem"),
                    |problem| match problem {
                        PemProblem::NoCertificate => Reason::NoCertificateInText,
                        PemProblem::Invalid(source) => Reason::PemText { source },
                    },
                )?;
                (None, der)
            }
            (Some(_), Some(pem)) => {
                return Err(self.invalid(pem.span(), key, Reason::CertificateSource));
            }
            (None, None) => {
                return Err(self.invalid(certificate.name.span(), key, Reason::CertificateSource));
            }
        };
        let start = certificate
            .start
            .as_ref()
            .map(|start| self.timestamp(start, format!("{key}.start")))
            .transpose()?;
        let end = certificate
            .end
            .as_ref()
            .map(|end| self.timestamp(end, format!("{key}.end")))
            .transpose()?;
        if let (Some(start), Some(end), Some(end_value)) = (start, end, &certificate.end)
            && end < start
        {
            return Err(self.invalid(
                end_value.span(),
                format!("{key}.end"),
                Reason::EndBeforeStart,
            ));
        }
        Ok(Certificate {
            name,
            file,
            der,
            start,
            end,
        })
    }

    /// The DER of the first certificate in `pem`, or the error `reason` makes of what is wrong,
    /// at `value` (the `file` or `pem` entry).
    fn certificate_der(
        &self,
        pem: &[u8],
        value: &Spanned<String>,
        key: String,
        reason: impl FnOnce(PemProblem) -> Reason,
    ) -> Result<Vec<u8>, Error> {
        match CertificateDer::from_pem_slice(pem) {
            Ok(der) => Ok(der.as_ref().to_vec()),
            Err(rustls_pki_types::pem::Error::NoItemsFound) => {
                Err(self.invalid(value.span(), key, reason(PemProblem::NoCertificate)))
            }
            Err(source) => {
                Err(self.invalid(value.span(), key, reason(PemProblem::Invalid(source))))
            }
        }
    }

    fn permission(&self, permission: &PermissionFile, key: String) -> Result<Permission, Error> {
        Ok(Permission {
            api: self.non_empty(&permission.api, format!("{key}.api"))?,
            scope: self.non_empty(&permission.scope, format!("{key}.scope"))?,
            kind: match permission.kind {
                PermissionKindFile::Delegated => fake_entra::PermissionKind::Delegated,
                PermissionKindFile::Application => fake_entra::PermissionKind::Application,
            },
            admin_consent: permission.admin_consent,
        })
    }

    fn signing_key(&self, signing_key: &SigningKeyFile) -> Result<SigningKeyPem, Error> {
        let (key_file, key_bytes) = self.read(&signing_key.key, "signing_key.key")?;
        let (certificate_file, certificate_bytes) =
            self.read(&signing_key.certificate, "signing_key.certificate")?;
        let as_text = |bytes: Vec<u8>, file: &Path, value: &Spanned<String>, key: &str| {
            String::from_utf8(bytes).map_err(|error| {
                self.invalid(
                    value.span(),
                    key,
                    Reason::ReadFile {
                        file: file.to_owned(),
                        source: std::io::Error::new(std::io::ErrorKind::InvalidData, error),
                    },
                )
            })
        };
        let key = as_text(key_bytes, &key_file, &signing_key.key, "signing_key.key")?;
        let certificate = as_text(
            certificate_bytes,
            &certificate_file,
            &signing_key.certificate,
            "signing_key.certificate",
        )?;
        super::entra::parse_signing_key(&key, &certificate).map_err(|source| {
            self.invalid(
                signing_key.key.span(),
                "signing_key",
                Reason::SigningKey { source },
            )
        })?;
        Ok(SigningKeyPem {
            origin: SigningKeyOrigin::Files {
                key: key_file,
                certificate: certificate_file,
            },
            key: SecretValue::new(key),
            certificate,
        })
    }

    fn entra(&self, entra: &EntraFile) -> Result<EntraKnobs, Error> {
        let mut seen: HashMap<String, String> = HashMap::new();
        let mut aliases = Vec::new();
        for (index, alias) in entra.aliases.iter().enumerate() {
            let key = format!("entra.aliases[{index}]");
            self.host_name(alias, &key)?;
            let lowered = alias.get_ref().to_ascii_lowercase();
            self.unique(&mut seen, lowered.clone(), "alias", alias, key)?;
            aliases.push(lowered);
        }
        let token_lifetime_seconds = entra
            .token_lifetime_seconds
            .as_ref()
            .map(|seconds| {
                self.in_range(
                    seconds,
                    "entra.token_lifetime_seconds",
                    1,
                    Some(MAX_TOKEN_LIFETIME_SECONDS),
                )
            })
            .transpose()?;
        let forced_errors = entra
            .forced_errors
            .iter()
            .enumerate()
            .map(|(index, forced)| {
                self.forced_error(forced, format!("entra.forced_errors[{index}]"))
            })
            .collect::<Result<Vec<_>, Error>>()?;
        Ok(EntraKnobs {
            aliases,
            token_lifetime_seconds,
            trailer_separator: entra.trailer_separator.map(|separator| match separator {
                TrailerSeparatorFile::Space => TrailerSeparator::Space,
                TrailerSeparatorFile::Crlf => TrailerSeparator::CrLf,
            }),
            common_tenant: entra.common_tenant.map(|policy| match policy {
                CommonTenantFile::NoTenantError => CommonTenantPolicy::NoTenantError,
                CommonTenantFile::HomeTenant => CommonTenantPolicy::HomeTenant,
            }),
            resources: entra
                .resources
                .as_ref()
                .map(|resources| self.resources(resources))
                .transpose()?,
            rate_limit: entra
                .rate_limit
                .as_ref()
                .map(|limit| self.rate_limit(limit))
                .transpose()?,
            forced_errors,
            message_overrides: self.message_overrides(&entra.message_overrides)?,
            require_form_content_type: entra.require_form_content_type,
            assertion_replay: entra
                .assertion_replay
                .as_ref()
                .map(|replay| self.assertion_replay(replay))
                .transpose()?,
        })
    }

    fn assertion_replay(
        &self,
        replay: &AssertionReplayFile,
    ) -> Result<AssertionReplayPolicy, Error> {
        match replay {
            AssertionReplayFile::Accept => Ok(AssertionReplayPolicy::Accept),
            // The fake refuses a capacity of 0 (a ledger that remembers nothing would accept
            // every replay); say so here, with the line and column.
            AssertionReplayFile::Reject(capacity) => {
                let capacity = self.in_range(
                    capacity,
                    "entra.assertion_replay.reject",
                    1,
                    Some(MAX_ASSERTION_REPLAY_CAPACITY),
                )?;
                Ok(AssertionReplayPolicy::Reject {
                    capacity: usize::try_from(capacity).expect("checked to be in 1..=1_000_000"),
                })
            }
        }
    }

    fn resources(&self, resources: &ResourcesFile) -> Result<ResourcePolicy, Error> {
        let listed = match resources {
            ResourcesFile::AnyDynamicsHost => return Ok(ResourcePolicy::AnyDynamicsHost),
            ResourcesFile::Listed(listed) => listed,
        };
        let mut checked = Vec::new();
        for (index, resource) in listed.iter().enumerate() {
            let uri = resource.get_ref();
            // The fake compares the whole URI and wants `https://{dataverse host}`, with at most
            // a trailing slash; anything else could never get a token.
            let host = uri
                .get(..8)
                .filter(|scheme| scheme.eq_ignore_ascii_case("https://"))
                .and_then(|_| uri.get(8..))
                .map(|rest| rest.strip_suffix('/').unwrap_or(rest));
            if !host.is_some_and(|host| CLOUD.is_dynamics_host(host)) {
                return Err(self.invalid(
                    resource.span(),
                    format!("entra.resources[{index}]"),
                    Reason::ResourceUri { value: uri.clone() },
                ));
            }
            checked.push(uri.clone());
        }
        Ok(ResourcePolicy::Listed(checked))
    }

    fn rate_limit(&self, limit: &RateLimitFile) -> Result<RateLimit, Error> {
        let max = Some(i64::from(u32::MAX));
        let as_u32 = |value: i64| u32::try_from(value).expect("checked to be in u32 range");
        Ok(RateLimit {
            requests: as_u32(self.in_range(
                &limit.requests,
                "entra.rate_limit.requests",
                1,
                max,
            )?),
            window_seconds: as_u32(self.in_range(
                &limit.window_seconds,
                "entra.rate_limit.window_seconds",
                1,
                max,
            )?),
        })
    }

    fn forced_error(&self, forced: &ForcedErrorFile, key: String) -> Result<ForcedError, Error> {
        let written = forced.error.get_ref();
        // Stored by name: AADSTS codes are ambiguous (90002 has three entries) and the fake
        // would resolve a code to its first entry anyway.
        let Some(kind) = ForcedErrorKind::find(written) else {
            return Err(self.invalid(
                forced.error.span(),
                format!("{key}.error"),
                Reason::UnknownCatalogueEntry {
                    value: written.clone(),
                    known: CatalogueEntry::known_names(),
                },
            ));
        };
        let error = kind.name().to_owned();
        let client_id = forced
            .client_id
            .as_ref()
            .map(|client_id| {
                self.guid(client_id, format!("{key}.client_id"))
                    .map(|id| id.to_string())
            })
            .transpose()?;
        let tenant = forced
            .tenant
            .as_ref()
            .map(|tenant| self.tenant_segment(tenant, format!("{key}.tenant")))
            .transpose()?;
        let count = |value: &Option<Spanned<i64>>, field: &str| {
            value
                .as_ref()
                .map(|value| {
                    self.in_range(value, format!("{key}.{field}"), 1, None)
                        .map(|count| count.unsigned_abs())
                })
                .transpose()
        };
        Ok(ForcedError {
            error,
            client_id,
            tenant,
            nth: count(&forced.nth, "nth")?,
            times: count(&forced.times, "times")?,
        })
    }

    /// A tenant segment as a client sends it: a GUID, a domain, or a tenant-less alias.
    fn tenant_segment(&self, value: &Spanned<String>, key: String) -> Result<String, Error> {
        let segment = value.get_ref();
        let lowered = segment.to_ascii_lowercase();
        if Uuid::try_parse(segment).is_ok()
            || TENANT_ALIASES.contains(&lowered.as_str())
            || is_host_name(segment)
        {
            Ok(segment.clone())
        } else {
            Err(self.invalid(
                value.span(),
                key,
                Reason::TenantSegment {
                    value: segment.clone(),
                },
            ))
        }
    }

    fn message_overrides(
        &self,
        overrides: &Entries<Spanned<String>>,
    ) -> Result<BTreeMap<String, String>, Error> {
        let mut checked = BTreeMap::new();
        for (name, template) in &overrides.0 {
            let key = format!("entra.message_overrides.{}", name.get_ref());
            // Overrides are looked up by entry name only, so a code would silently do nothing.
            if !CATALOGUE.iter().any(|entry| entry.name == name.get_ref()) {
                let known: Vec<&str> = CATALOGUE.iter().map(|entry| entry.name).collect();
                return Err(self.invalid(
                    name.span(),
                    key,
                    Reason::UnknownCatalogueEntry {
                        value: name.get_ref().clone(),
                        known: known.join(", "),
                    },
                ));
            }
            let template = self.non_empty(template, key)?;
            checked.insert(name.get_ref().clone(), template);
        }
        Ok(checked)
    }

    /// Checks the values `FaultRule`'s serde cannot: each at the position [`FaultSpans`] gives.
    fn faults(&self, rules: Vec<FaultRule>) -> Result<Vec<FaultRule>, Error> {
        match self.fault_errors().into_iter().next() {
            Some(error) => Err(error),
            None => Ok(rules),
        }
    }

    /// Every `[[faults]]` rule's first error.
    fn fault_errors(&self) -> Vec<Error> {
        let spans: FaultSpans = match self.parse() {
            Ok(spans) => spans,
            Err(error) => return vec![error],
        };
        spans
            .faults
            .iter()
            .enumerate()
            .filter_map(|(index, rule)| self.fault(rule, &format!("faults[{index}]")).err())
            .collect()
    }

    fn fault(&self, rule: &FaultRuleSpans, key: &str) -> Result<(), Error> {
        if let Some(service) = &rule.service
            && !FAULT_SERVICES.contains(&service.get_ref().as_str())
        {
            return Err(self.invalid(
                service.span(),
                format!("{key}.service"),
                Reason::UnknownService {
                    name: service.get_ref().clone(),
                    known: FAULT_SERVICES.to_vec(),
                },
            ));
        }
        if let Some(host) = &rule.host {
            self.host_name(host, &format!("{key}.host"))?;
        }
        if let Some(path) = &rule.path
            && !(path.get_ref().starts_with('/') || path.get_ref().starts_with('*'))
        {
            return Err(self.invalid(
                path.span(),
                format!("{key}.path"),
                Reason::PathPattern {
                    value: path.get_ref().clone(),
                },
            ));
        }
        for (field, count) in [
            ("nth", &rule.nth),
            ("from", &rule.from),
            ("times", &rule.times),
        ] {
            if let Some(count) = count
                && *count.get_ref() == 0
            {
                return Err(self.invalid(
                    count.span(),
                    format!("{key}.{field}"),
                    Reason::OutOfRange {
                        value: 0,
                        min: 1,
                        max: None,
                    },
                ));
            }
        }
        // `nth` picks one request, `from` every one from a request on: both at once is a
        // mistake (fake-core's `FaultRule::check` refuses it too).
        if let (Some(_), Some(from)) = (&rule.nth, &rule.from) {
            return Err(self.invalid(from.span(), format!("{key}.from"), Reason::NthWithFrom));
        }
        if let Some(status) = &rule.action.status
            && !(100..=599).contains(status.get_ref())
        {
            return Err(self.invalid(
                status.span(),
                format!("{key}.action.status"),
                Reason::OutOfRange {
                    value: i64::from(*status.get_ref()),
                    min: 100,
                    max: Some(599),
                },
            ));
        }
        for (name, value) in &rule.action.headers.0 {
            let header_key = format!("{key}.action.headers.{}", name.get_ref());
            if !is_header_name(name.get_ref()) {
                return Err(self.invalid(
                    name.span(),
                    header_key,
                    Reason::HeaderName {
                        name: name.get_ref().clone(),
                    },
                ));
            }
            let printable = value
                .get_ref()
                .chars()
                .all(|c| c == '\t' || (' '..='~').contains(&c));
            if !printable {
                return Err(self.invalid(
                    value.span(),
                    header_key,
                    Reason::HeaderValue {
                        name: name.get_ref().clone(),
                    },
                ));
            }
        }
        Ok(())
    }

    /// A whole number in `min..=max` (`max` unbounded when `None`).
    fn in_range(
        &self,
        value: &Spanned<i64>,
        key: impl Into<String>,
        min: i64,
        max: Option<i64>,
    ) -> Result<i64, Error> {
        let number = *value.get_ref();
        if number >= min && max.is_none_or(|max| number <= max) {
            Ok(number)
        } else {
            Err(self.invalid(
                value.span(),
                key,
                Reason::OutOfRange {
                    value: number,
                    min,
                    max,
                },
            ))
        }
    }

    fn host_name(&self, value: &Spanned<String>, key: &str) -> Result<(), Error> {
        if is_host_name(value.get_ref()) {
            Ok(())
        } else {
            Err(self.invalid(
                value.span(),
                key,
                Reason::HostName {
                    value: value.get_ref().clone(),
                },
            ))
        }
    }

    /// A table key other entries can refer to: a bare TOML key.
    fn table_key(&self, key: &Spanned<String>, table: &str) -> Result<(), Error> {
        let name = key.get_ref();
        let plain = !name.is_empty()
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
        if plain {
            Ok(())
        } else {
            Err(self.invalid(key.span(), table, Reason::Key { name: name.clone() }))
        }
    }

    fn tenant_ref<'t>(
        &self,
        name: &Spanned<String>,
        key: String,
        tenants: &'t [Tenant],
    ) -> Result<&'t Tenant, Error> {
        tenants
            .iter()
            .find(|tenant| &tenant.key == name.get_ref())
            .ok_or_else(|| {
                self.invalid(
                    name.span(),
                    key,
                    Reason::UnknownTenant {
                        name: name.get_ref().clone(),
                        known: tenants.iter().map(|tenant| tenant.key.clone()).collect(),
                    },
                )
            })
    }

    /// Records `value` as used by `key`, or fails naming the first user.
    fn unique<T: std::hash::Hash + Eq + std::fmt::Display>(
        &self,
        seen: &mut HashMap<T, String>,
        value: T,
        what: &'static str,
        written: &Spanned<String>,
        key: String,
    ) -> Result<(), Error> {
        if let Some(first) = seen.get(&value) {
            return Err(self.invalid(
                written.span(),
                key,
                Reason::Duplicate {
                    what,
                    value: value.to_string(),
                    first: first.clone(),
                },
            ));
        }
        seen.insert(value, key);
        Ok(())
    }

    /// The GUID written at `key` (unique among `seen`, which records it), or, when the file
    /// writes none, the one `derive` makes.
    fn written_or_derived_id(
        &self,
        written: Option<&Spanned<String>>,
        key: String,
        seen: &mut HashMap<Uuid, String>,
        what: &'static str,
        derive: impl FnOnce() -> Uuid,
    ) -> Result<Uuid, Error> {
        let Some(written) = written else {
            return Ok(derive());
        };
        let id = self.guid(written, key.clone())?;
        self.unique(seen, id, what, written, key)?;
        Ok(id)
    }

    fn guid(&self, value: &Spanned<String>, key: String) -> Result<Uuid, Error> {
        Uuid::parse_str(value.get_ref()).map_err(|source| {
            self.invalid(
                value.span(),
                key,
                Reason::Guid {
                    value: value.get_ref().clone(),
                    source,
                },
            )
        })
    }

    fn timestamp(&self, value: &Spanned<String>, key: String) -> Result<OffsetDateTime, Error> {
        OffsetDateTime::parse(value.get_ref(), &Rfc3339).map_err(|cause| {
            self.invalid(
                value.span(),
                key,
                Reason::Timestamp {
                    value: value.get_ref().clone(),
                    cause,
                },
            )
        })
    }

    fn non_empty(&self, value: &Spanned<String>, key: String) -> Result<String, Error> {
        if value.get_ref().trim().is_empty() {
            Err(self.invalid(value.span(), key, Reason::Empty))
        } else {
            Ok(value.get_ref().clone())
        }
    }

    fn domain(&self, value: &Spanned<String>, key: &str) -> Result<(), Error> {
        let domain = value.get_ref();
        let plausible = domain.contains('.')
            && !domain.starts_with('.')
            && !domain.ends_with('.')
            && domain
                .chars()
                .all(|c| c.is_alphanumeric() || c == '-' || c == '.');
        if plausible {
            Ok(())
        } else {
            Err(self.invalid(
                value.span(),
                key,
                Reason::Domain {
                    value: domain.clone(),
                },
            ))
        }
    }

    /// Reads a file named relative to the world file.
    fn read(&self, value: &Spanned<String>, key: &str) -> Result<(PathBuf, Vec<u8>), Error> {
        let file = self.folder.join(value.get_ref());
        match std::fs::read(&file) {
            Ok(bytes) => Ok((file, bytes)),
            Err(source) => Err(self.invalid(value.span(), key, Reason::ReadFile { file, source })),
        }
    }
}

/// A DNS host name with at least two labels: ASCII letters, digits and inner `-`.
fn is_host_name(name: &str) -> bool {
    name.contains('.')
        && name.split('.').all(|label| {
            !label.is_empty()
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        })
}

/// An HTTP field name: one or more `tchar`s (RFC 9110 §5.6.2).
fn is_header_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c))
}
