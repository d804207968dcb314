//! Entra ID changes on the world document: secrets, certificates, apps, service principals,
//! admin consent and a tenant's Dynamics CRM principal. Toggles remove the key they set when
//! switching back to the default, so a change and its reverse give back the same document.

use time::Duration;
use toml::{Table, Value};

use super::names::{self, array, entry, find, position, remove_item};
use super::{Batch, Change, ChangeReason, Refusal, timestamp};
use crate::world::certificate_blocks;

/// How long a secret added without `expires` lasts: the portal's recommended lifetime.
const DEFAULT_SECRET_LIFETIME: Duration = Duration::days(180);

/// Characters of generated secret values: those Entra's secrets use.
const SECRET_ALPHABET: &[u8] =
    b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789.-_~";

impl Batch<'_> {
    /// Applies `change` when it is an Entra change; whether it was one.
    pub(super) fn apply_entra(&mut self, change: &Change) -> Result<bool, Refusal> {
        match change {
            Change::AddSecret {
                app,
                secret,
                value,
                expires,
            } => {
                let value = match value {
                    Some(value) => value.expose().to_owned(),
                    None => self.generated_secret(),
                };
                let id = self.ids.next_uuid().to_string();
                let expires = timestamp(expires.unwrap_or(self.now + DEFAULT_SECRET_LIFETIME));
                let app_table = self.app(app)?;
                let secrets = array(app_table, "secrets");
                if position(secrets, "name", secret).is_some() {
                    return Err(Refusal::at("secret")(ChangeReason::Exists {
                        owner: format!("app `{app}`"),
                        what: "secret",
                        name: secret.clone(),
                    }));
                }
                let mut entry = Table::new();
                entry.insert("name".into(), Value::String(secret.clone()));
                entry.insert("id".into(), Value::String(id));
                entry.insert("value".into(), Value::String(value));
                entry.insert("expires".into(), expires);
                secrets.push(Value::Table(entry));
            }
            Change::RemoveSecret { app, secret } => {
                let app_table = self.app(app)?;
                let secrets = array(app_table, "secrets");
                let index = find(secrets, "name", secret, format!("app `{app}`"), "secret")
                    .map_err(Refusal::at("secret"))?;
                remove_item(app_table, "secrets", index);
            }
            Change::ExpireSecret { app, secret, at } => {
                let expires = timestamp(at.unwrap_or(self.now));
                let secrets = array(self.app(app)?, "secrets");
                let index = find(secrets, "name", secret, format!("app `{app}`"), "secret")
                    .map_err(Refusal::at("secret"))?;
                set(&mut secrets[index], "expires", expires);
            }
            Change::AddCertificate {
                app,
                certificate,
                pem,
            } => {
                let blocks = certificate_blocks(pem);
                if blocks.is_empty() {
                    return Err(Refusal::at("pem")(ChangeReason::rule(
                        "holds no `-----BEGIN CERTIFICATE-----` block",
                    )));
                }
                let certificates = array(self.app(app)?, "certificates");
                if position(certificates, "name", certificate).is_some() {
                    return Err(Refusal::at("certificate")(ChangeReason::Exists {
                        owner: format!("app `{app}`"),
                        what: "certificate",
                        name: certificate.clone(),
                    }));
                }
                let mut entry = Table::new();
                entry.insert("name".into(), Value::String(certificate.clone()));
                entry.insert("pem".into(), Value::String(blocks));
                certificates.push(Value::Table(entry));
            }
            Change::RemoveCertificate { app, certificate } => {
                let app_table = self.app(app)?;
                let certificates = array(app_table, "certificates");
                let index = find(
                    certificates,
                    "name",
                    certificate,
                    format!("app `{app}`"),
                    "certificate",
                )
                .map_err(Refusal::at("certificate"))?;
                remove_item(app_table, "certificates", index);
            }
            Change::DisableApp { app } => {
                self.app(app)?
                    .insert("enabled".into(), Value::Boolean(false));
            }
            Change::EnableApp { app } => {
                self.app(app)?.remove("enabled");
            }
            Change::AddServicePrincipal { app, tenant } => {
                let home = self.home_tenant(app, tenant)?;
                if home == *tenant {
                    return Err(Refusal::at("tenant")(ChangeReason::rule(format!(
                        "`{tenant}` is the home tenant of app `{app}`, which always has its service principal"
                    ))));
                }
                let principals = array(self.app(app)?, "service_principals");
                match position(principals, "tenant", tenant) {
                    Some(index) if is_removed(&principals[index]) => {
                        if let Some(principal) = principals[index].as_table_mut() {
                            principal.remove("removed");
                        }
                    }
                    Some(_) => {
                        return Err(Refusal::at("tenant")(ChangeReason::Exists {
                            owner: format!("app `{app}`"),
                            what: "a service principal in tenant",
                            name: tenant.clone(),
                        }));
                    }
                    None => {
                        let mut entry = Table::new();
                        entry.insert("tenant".into(), Value::String(tenant.clone()));
                        principals.push(Value::Table(entry));
                    }
                }
            }
            Change::RemoveServicePrincipal { app, tenant } => {
                let home = self.home_tenant(app, tenant)?;
                if home == *tenant {
                    return Err(Refusal::at("tenant")(ChangeReason::rule(format!(
                        "`{tenant}` is the home tenant of app `{app}`, whose service principal goes only with the registration; use `disable_app`"
                    ))));
                }
                let principals = array(self.app(app)?, "service_principals");
                let installed: Vec<Value> = principals
                    .iter()
                    .filter(|principal| !is_removed(principal))
                    .cloned()
                    .collect();
                find(
                    &installed,
                    "tenant",
                    tenant,
                    format!("app `{app}`"),
                    "service principal in tenant",
                )
                .map_err(Refusal::at("tenant"))?;
                // The entry stays, marked: the app's application users in that tenant's
                // environments stay too, as in Dataverse, and need the app to be known there.
                let index = position(principals, "tenant", tenant).expect("found above");
                set(&mut principals[index], "removed", Value::Boolean(true));
            }
            Change::GrantConsent { app, api, scope }
            | Change::RevokeConsent { app, api, scope } => {
                let granted = matches!(change, Change::GrantConsent { .. });
                let permissions = array(self.app(app)?, "permissions");
                let index = permissions
                    .iter()
                    .position(|permission| {
                        permission.get("api").and_then(Value::as_str) == Some(api)
                            && permission.get("scope").and_then(Value::as_str) == Some(scope)
                    })
                    .ok_or_else(|| {
                        let known = permissions
                            .iter()
                            .filter_map(|permission| {
                                Some(format!(
                                    "{} {}",
                                    permission.get("api")?.as_str()?,
                                    permission.get("scope")?.as_str()?
                                ))
                            })
                            .collect();
                        Refusal::at("scope")(ChangeReason::unknown(
                            Some(format!("app `{app}`")),
                            "requested permission",
                            &format!("{api} {scope}"),
                            known,
                        ))
                    })?;
                set(
                    &mut permissions[index],
                    "admin_consent",
                    Value::Boolean(granted),
                );
            }
            Change::DisableDynamics { tenant } | Change::EnableDynamics { tenant } => {
                let enable = matches!(change, Change::EnableDynamics { .. });
                let tenant_table = entry(self.document.table_mut(), "tenants", "tenant", tenant)
                    .map_err(Refusal::at("tenant"))?;
                if tenant_table.get("dynamics").and_then(Value::as_bool) != Some(true) {
                    return Err(Refusal::at("tenant")(ChangeReason::rule(format!(
                        "tenant `{tenant}` has no Dynamics CRM service principal (`dynamics = false`)"
                    ))));
                }
                if enable {
                    tenant_table.remove("dynamics_enabled");
                } else {
                    tenant_table.insert("dynamics_enabled".into(), Value::Boolean(false));
                }
            }
            _ => return Ok(false),
        }
        Ok(true)
    }

    /// `[apps.<app>]`, to edit.
    pub(super) fn app(&mut self, app: &str) -> Result<&mut Table, Refusal> {
        entry(self.document.table_mut(), "apps", "app", app).map_err(Refusal::at("app"))
    }

    /// The home tenant of `app`, after checking `tenant` is a tenant of the world.
    fn home_tenant(&mut self, app: &str, tenant: &str) -> Result<String, Refusal> {
        let tenants = names::keys(self.document.table(), "tenants");
        if !tenants.iter().any(|key| key == tenant) {
            return Err(Refusal::at("tenant")(ChangeReason::unknown(
                None, "tenant", tenant, tenants,
            )));
        }
        Ok(self
            .app(app)?
            .get("home_tenant")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned())
    }

    /// A secret value shaped like Entra's: 40 characters, `Q~` at index 3.
    fn generated_secret(&self) -> String {
        let mut bytes = [0u8; 38];
        self.ids.fill(&mut bytes);
        let mut value: String = bytes
            .iter()
            .map(|byte| char::from(SECRET_ALPHABET[usize::from(*byte) % SECRET_ALPHABET.len()]))
            .collect();
        value.insert_str(3, "Q~");
        value
    }
}

/// Whether a `service_principals` entry says `removed = true`.
fn is_removed(principal: &Value) -> bool {
    principal.get("removed").and_then(Value::as_bool) == Some(true)
}

/// Sets `key` of the table `item` (an entry of an array of tables) in place.
fn set(item: &mut Value, key: &str, value: Value) {
    if let Some(table) = item.as_table_mut() {
        table.insert(key.to_owned(), value);
    }
}
