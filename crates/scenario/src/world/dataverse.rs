//! From a [`World`] to `fake_dataverse::Config`: the environments (already resolved by
//! validation) and their forced throttles, the `[dataverse]` switches, the cloud's authority
//! and issuer hosts, and the fake Entra ID's signing key as the one trusted JWKS key, so tokens
//! from the fake Entra ID are the tokens the fake Dataverse accepts.

use fake_core::{Clock, IdGenerator};
use fake_entra::SigningKey;
use jsonwebtoken::jwk::{
    AlgorithmParameters, CommonParameters, Jwk, JwkSet, KeyAlgorithm, PublicKeyUse,
    RSAKeyParameters, RSAKeyType,
};

use super::{Environment, EnvironmentThrottle, World};
use crate::Error;

impl World {
    /// The fake Dataverse config for this world, on `clock` and inventing ids from `ids`.
    pub fn dataverse_config(
        &self,
        clock: Clock,
        ids: IdGenerator,
    ) -> Result<fake_dataverse::Config, Error> {
        let mut config = fake_dataverse::Config::new(trusted_keys(&self.entra_signing_key()?));
        config.environments = self.environments.iter().map(fake_environment).collect();
        config.authority_host = self.cloud().authority_host().to_owned();
        config.issuer_host = self.cloud().v1_issuer_host().to_owned();
        config.switches = self.dataverse.clone();
        config.forced_throttles = self
            .environments
            .iter()
            .flat_map(|environment| {
                environment
                    .forced_throttles
                    .iter()
                    .map(|throttle| self.fake_throttle(environment, throttle))
            })
            .collect();
        config.clock = clock;
        config.ids = ids;
        Ok(config)
    }

    /// A forced throttle on `environment`'s host (the fake matches its `.api.` host too), for
    /// the app's client id.
    fn fake_throttle(
        &self,
        environment: &Environment,
        throttle: &EnvironmentThrottle,
    ) -> fake_dataverse::ForcedThrottle {
        fake_dataverse::ForcedThrottle {
            limit: throttle.limit,
            host: Some(environment.host.clone()),
            application_id: throttle.app.as_ref().map(|key| {
                self.app(key)
                    .expect("validation resolves every app key")
                    .client_id
            }),
            nth: throttle.nth,
            times: throttle.times,
            retry_after_seconds: throttle.retry_after_seconds,
        }
    }
}

/// The JWKS the fake Entra ID publishes, reduced to what a resource server reads: one RSA key
/// with its `kid`, for RS256 signatures.
fn trusted_keys(signing_key: &SigningKey) -> JwkSet {
    JwkSet {
        keys: vec![Jwk {
            common: CommonParameters {
                public_key_use: Some(PublicKeyUse::Signature),
                key_algorithm: Some(KeyAlgorithm::RS256),
                key_id: Some(signing_key.kid().to_owned()),
                ..CommonParameters::default()
            },
            algorithm: AlgorithmParameters::RSA(RSAKeyParameters {
                key_type: RSAKeyType::RSA,
                n: signing_key.modulus().to_owned(),
                e: signing_key.exponent().to_owned(),
            }),
        }],
    }
}

fn fake_environment(environment: &Environment) -> fake_dataverse::Environment {
    fake_dataverse::Environment {
        host: environment.host.clone(),
        tenant_id: environment.tenant_id,
        organization_id: environment.organization_id,
        friendly_name: environment.friendly_name.clone(),
        unique_name: environment.unique_name.clone(),
        environment_id: environment.environment_id.clone(),
        version: environment.version.clone(),
        geo: environment.geo.clone(),
        admin_mode: environment.admin_mode,
        business_units: environment.business_units.clone(),
        roles: environment.roles.clone(),
        application_users: environment.application_users.clone(),
        teams: environment.teams.clone(),
        table_owners: environment.table_owners.clone(),
        tables: environment
            .tables
            .iter()
            .map(|table| fake_dataverse::Table {
                definition: table.definition.clone(),
                data: table.data.clone(),
            })
            .collect(),
        data_seed: environment.data_seed,
        limits: environment.limits,
    }
}
