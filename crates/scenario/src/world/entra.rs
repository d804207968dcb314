//! From a [`World`] to `fake_entra::Config`: tenants, apps with their credentials and service
//! principals, the signing key and the `[entra]` knobs. The caller brings the clock and id
//! generator, so scenarios run on a manual clock and `serve` on the system one.

use fake_core::{Clock, IdGenerator};
use fake_entra::{
    ApiPermission, ClientCertificate, ClientSecret, Config, ServicePrincipal, SigningKey,
};

use super::{App, EntraKnobs, Tenant, World};
use crate::Error;

impl World {
    /// The fake Entra ID config for this world, on `clock` and inventing ids from `ids`.
    pub fn entra_config(&self, clock: Clock, ids: IdGenerator) -> Result<Config, Error> {
        let mut config = Config::new(self.cloud(), self.entra_signing_key()?);
        config.tenants = self.tenants.iter().map(entra_tenant).collect();
        config.apps = self.apps.iter().map(entra_app).collect();
        config.clock = clock;
        config.ids = ids;
        self.entra.apply(&mut config);
        Ok(config)
    }
}

impl World {
    /// The key that signs the fake Entra ID's tokens (validation has parsed it once already).
    pub(super) fn entra_signing_key(&self) -> Result<SigningKey, Error> {
        parse_signing_key(self.signing_key.key.expose(), &self.signing_key.certificate).map_err(
            |source| Error::Entra {
                path: self.path.clone(),
                source,
            },
        )
    }
}

/// How many parsed signing keys [`parse_signing_key`] remembers.
const PARSED_KEYS: usize = 4;

/// `SigningKey::from_pem`, remembering the last few keys parsed. Every change to a live world
/// derives both fakes' configs again from the changed world, whose signing key is almost always
/// the one it had; parsing an RSA key is most of what that would cost (a 1,000-change run spent
/// a sixth of its time there). The memory is keyed by the whole PEM texts, so a changed key is
/// parsed afresh; a key that does not parse is never remembered.
pub(crate) fn parse_signing_key(
    key_pem: &str,
    certificate_pem: &str,
) -> Result<SigningKey, fake_entra::Error> {
    static PARSED: std::sync::Mutex<Vec<(String, String, SigningKey)>> =
        std::sync::Mutex::new(Vec::new());
    let lock = || {
        PARSED
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    };
    if let Some((_, _, key)) = lock()
        .iter()
        .find(|(key, certificate, _)| key == key_pem && certificate == certificate_pem)
    {
        return Ok(key.clone());
    }
    let parsed = SigningKey::from_pem(key_pem, certificate_pem)?;
    let mut remembered = lock();
    if remembered.len() == PARSED_KEYS {
        remembered.remove(0);
    }
    remembered.push((
        key_pem.to_owned(),
        certificate_pem.to_owned(),
        parsed.clone(),
    ));
    Ok(parsed)
}

impl EntraKnobs {
    /// Overrides the knobs the world file sets; the rest keep `Config::new`'s defaults.
    fn apply(&self, config: &mut Config) {
        let EntraKnobs {
            aliases,
            token_lifetime_seconds,
            trailer_separator,
            common_tenant,
            resources,
            rate_limit,
            forced_errors,
            message_overrides,
            require_form_content_type,
            assertion_replay,
        } = self;
        config.aliases.clone_from(aliases);
        if let Some(seconds) = token_lifetime_seconds {
            config.token_lifetime_seconds = *seconds;
        }
        if let Some(separator) = trailer_separator {
            config.trailer_separator = *separator;
        }
        if let Some(policy) = common_tenant {
            config.common_tenant = *policy;
        }
        if let Some(policy) = resources {
            config.resources = policy.clone();
        }
        config.rate_limit = *rate_limit;
        config.forced_errors.clone_from(forced_errors);
        config.message_overrides.clone_from(message_overrides);
        if let Some(required) = require_form_content_type {
            config.require_form_content_type = *required;
        }
        if let Some(policy) = assertion_replay {
            config.assertion_replay = *policy;
        }
    }
}

fn entra_tenant(tenant: &Tenant) -> fake_entra::Tenant {
    fake_entra::Tenant {
        id: tenant.id,
        domains: tenant.domains.clone(),
        display_name: tenant.display_name.clone(),
        dynamics: tenant.dynamics,
        dynamics_enabled: tenant.dynamics_enabled,
        region_scope: tenant.region_scope.clone(),
    }
}

pub(super) fn entra_app(app: &App) -> fake_entra::App {
    let mut service_principals: Vec<ServicePrincipal> = app
        .service_principals
        .iter()
        .filter(|principal| !principal.removed)
        .map(|principal| ServicePrincipal {
            tenant: principal.tenant_id,
            object_id: principal.object_id,
            enabled: app.enabled && principal.enabled,
        })
        .collect();
    // The fake implies an enabled principal in the home tenant; a disabled app must say so.
    if !app.enabled
        && !service_principals
            .iter()
            .any(|principal| principal.tenant == app.home_tenant_id)
    {
        service_principals.insert(
            0,
            ServicePrincipal {
                tenant: app.home_tenant_id,
                object_id: None,
                enabled: false,
            },
        );
    }
    fake_entra::App {
        client_id: app.client_id,
        display_name: app.display_name.clone(),
        home_tenant: app.home_tenant_id,
        multi_tenant: app.multi_tenant,
        service_principals,
        secrets: app
            .secrets
            .iter()
            .map(|secret| ClientSecret {
                name: secret.name.clone(),
                id: secret.id,
                value: secret.value.expose().to_owned(),
                expires: secret.expires,
            })
            .collect(),
        certificates: app
            .certificates
            .iter()
            .map(|certificate| ClientCertificate {
                name: certificate.name.clone(),
                der: certificate.der.clone(),
                start: certificate.start,
                end: certificate.end,
            })
            .collect(),
        permissions: app
            .permissions
            .iter()
            .map(|permission| ApiPermission {
                api: permission.api.clone(),
                scope: permission.scope.clone(),
                kind: permission.kind,
                admin_consent: permission.admin_consent,
            })
            .collect(),
    }
}
